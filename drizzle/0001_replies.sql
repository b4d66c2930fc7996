CREATE TABLE `webhook_events` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`event_key` varchar(191) NOT NULL,
	`kind` varchar(16) NOT NULL,
	`payload` mediumtext NOT NULL,
	`status` varchar(16) NOT NULL DEFAULT 'received',
	`note` varchar(512),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `webhook_events_id` PRIMARY KEY(`id`),
	CONSTRAINT `webhook_events_key` UNIQUE(`event_key`)
);
--> statement-breakpoint
CREATE TABLE `whatsapp_conversations` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`outbox_id` bigint unsigned NOT NULL,
	`shipment_id` varchar(64) NOT NULL,
	`account_id` int NOT NULL,
	`customer_number` varchar(20) NOT NULL,
	`connection_id` varchar(64) NOT NULL,
	`awaiting` varchar(16),
	`offered_dates` text,
	`last_actionable_reply_id` bigint unsigned,
	`closed_at` datetime(3),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `whatsapp_conversations_id` PRIMARY KEY(`id`),
	CONSTRAINT `whatsapp_conversations_outbox` UNIQUE(`outbox_id`)
);
--> statement-breakpoint
CREATE TABLE `whatsapp_replies` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`webhook_event_id` bigint unsigned NOT NULL,
	`conversation_id` bigint unsigned NOT NULL,
	`shipment_id` varchar(64) NOT NULL,
	`type` varchar(16) NOT NULL,
	`intent` varchar(32) NOT NULL,
	`summary` varchar(512),
	`received_at` datetime(3) NOT NULL,
	`state` varchar(16) NOT NULL DEFAULT 'pending',
	`action` varchar(32),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `whatsapp_replies_id` PRIMARY KEY(`id`),
	CONSTRAINT `whatsapp_replies_event` UNIQUE(`webhook_event_id`)
);
--> statement-breakpoint
ALTER TABLE `notification_outbox` ADD `conversation_id` bigint unsigned;--> statement-breakpoint
CREATE INDEX `webhook_events_status_created` ON `webhook_events` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `whatsapp_conversations_number` ON `whatsapp_conversations` (`customer_number`,`created_at`);--> statement-breakpoint
CREATE INDEX `whatsapp_replies_conversation` ON `whatsapp_replies` (`conversation_id`,`id`);