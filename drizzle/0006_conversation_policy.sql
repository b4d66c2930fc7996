CREATE TABLE `whatsapp_customer_windows` (
	`sender_number` varchar(20) NOT NULL,
	`customer_number` varchar(20) NOT NULL,
	`last_inbound_at` datetime(3) NOT NULL,
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `whatsapp_customer_windows_sender_number_customer_number_pk` PRIMARY KEY(`sender_number`,`customer_number`)
);
--> statement-breakpoint
CREATE TABLE `whatsapp_no_reply_checks` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`outbox_id` bigint unsigned NOT NULL,
	`shipment_id` varchar(64) NOT NULL,
	`account_id` int NOT NULL,
	`due_at` datetime(3) NOT NULL,
	`status` varchar(16) NOT NULL DEFAULT 'scheduled',
	`outcome` varchar(64),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `whatsapp_no_reply_checks_id` PRIMARY KEY(`id`),
	CONSTRAINT `whatsapp_no_reply_checks_outbox` UNIQUE(`outbox_id`)
);
--> statement-breakpoint
CREATE TABLE `whatsapp_suppressions` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`sender_number` varchar(20) NOT NULL,
	`customer_number` varchar(20) NOT NULL,
	`reason` varchar(32) NOT NULL,
	`source` varchar(32) NOT NULL,
	`account_id` int,
	`expires_at` datetime(3),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `whatsapp_suppressions_id` PRIMARY KEY(`id`),
	CONSTRAINT `whatsapp_suppressions_key` UNIQUE(`sender_number`,`customer_number`,`reason`)
);
--> statement-breakpoint
ALTER TABLE `poe_channel_settings` ADD `conversation_policy` text;--> statement-breakpoint
CREATE INDEX `whatsapp_no_reply_checks_status_due` ON `whatsapp_no_reply_checks` (`status`,`due_at`);--> statement-breakpoint
CREATE INDEX `whatsapp_no_reply_checks_shipment` ON `whatsapp_no_reply_checks` (`shipment_id`);--> statement-breakpoint
CREATE INDEX `whatsapp_suppressions_account` ON `whatsapp_suppressions` (`account_id`);