CREATE TABLE `fdr_inbox` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`event_key` varchar(191) NOT NULL,
	`shipment_id` varchar(64) NOT NULL,
	`attempt` int NOT NULL,
	`account_id` int,
	`pubsub_message_id` varchar(128),
	`payload` mediumtext NOT NULL,
	`status` varchar(16) NOT NULL DEFAULT 'received',
	`reason` varchar(512),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `fdr_inbox_id` PRIMARY KEY(`id`),
	CONSTRAINT `fdr_inbox_event_key` UNIQUE(`event_key`)
);
--> statement-breakpoint
CREATE TABLE `notification_outbox` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`idempotency_key` varchar(191) NOT NULL,
	`kind` varchar(32) NOT NULL,
	`shipment_id` varchar(64) NOT NULL,
	`account_id` int NOT NULL,
	`inbox_id` bigint unsigned,
	`reason` varchar(64),
	`connection_id` varchar(64) NOT NULL,
	`template_id` varchar(128),
	`to_number` varchar(20) NOT NULL,
	`customer_name` varchar(255),
	`body` text NOT NULL,
	`status` varchar(16) NOT NULL DEFAULT 'pending',
	`attempts` int NOT NULL DEFAULT 0,
	`gupshup_message_id` varchar(128),
	`status_log_id` bigint unsigned,
	`error_code` varchar(32),
	`last_error` varchar(1024),
	`sent_at` datetime(3),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `notification_outbox_id` PRIMARY KEY(`id`),
	CONSTRAINT `notification_outbox_key` UNIQUE(`idempotency_key`)
);
--> statement-breakpoint
CREATE TABLE `poe_channel_notifications` (
	`id` int AUTO_INCREMENT NOT NULL,
	`account_id` int NOT NULL,
	`notification_type` varchar(64) NOT NULL,
	`isWhatsappEnabled` tinyint NOT NULL DEFAULT 0,
	`whatsappTemplateId` varchar(128),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `poe_channel_notifications_id` PRIMARY KEY(`id`),
	CONSTRAINT `poe_channel_notifications_account_type` UNIQUE(`account_id`,`notification_type`)
);
--> statement-breakpoint
CREATE TABLE `poe_channel_settings` (
	`id` int AUTO_INCREMENT NOT NULL,
	`account_id` int NOT NULL,
	`whatsappSenderConnectionId` varchar(64),
	`store_name` varchar(255),
	`support_contact_number` varchar(32),
	`support_email_address` varchar(255),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `poe_channel_settings_id` PRIMARY KEY(`id`),
	CONSTRAINT `poe_channel_settings_account` UNIQUE(`account_id`)
);
--> statement-breakpoint
CREATE TABLE `shipment_activity` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`activity_key` varchar(191) NOT NULL,
	`shipment_id` varchar(64) NOT NULL,
	`account_id` int,
	`kind` varchar(32) NOT NULL,
	`title` varchar(512) NOT NULL,
	`details` text NOT NULL,
	`occurred_at` datetime(3) NOT NULL,
	`published_at` datetime(3),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `shipment_activity_id` PRIMARY KEY(`id`),
	CONSTRAINT `shipment_activity_key` UNIQUE(`activity_key`)
);
--> statement-breakpoint
CREATE TABLE `whatsapp_sender_connections` (
	`id` int AUTO_INCREMENT NOT NULL,
	`account_id` int NOT NULL,
	`app_name` varchar(128) NOT NULL,
	`wa_number` varchar(20) NOT NULL,
	`userid_enc` text NOT NULL,
	`password_enc` text NOT NULL,
	`two_way_userid_enc` text,
	`two_way_password_enc` text,
	`api_key_enc` text,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `whatsapp_sender_connections_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `whatsapp_status_logs` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`shipment_id` varchar(64) NOT NULL,
	`status` varchar(16) NOT NULL,
	`message_id` varchar(128),
	`remarks` mediumtext,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`external_updatedAt` datetime(3),
	CONSTRAINT `whatsapp_status_logs_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `whatsappTemplateVariables` (
	`id` int AUTO_INCREMENT NOT NULL,
	`variable_number` int NOT NULL,
	`defined_variable` varchar(64) NOT NULL,
	`description` varchar(512),
	`template_id` varchar(128) NOT NULL,
	CONSTRAINT `whatsappTemplateVariables_id` PRIMARY KEY(`id`),
	CONSTRAINT `whatsapp_template_variables_template_number` UNIQUE(`template_id`,`variable_number`)
);
--> statement-breakpoint
CREATE TABLE `whatsapp_templates` (
	`id` varchar(128) NOT NULL,
	`name` varchar(255) NOT NULL,
	`default_for_reason` varchar(64),
	`connection_id` varchar(64),
	`body` text NOT NULL,
	`buttons` text NOT NULL,
	`category` varchar(32) NOT NULL DEFAULT 'UTILITY',
	`status` varchar(32) NOT NULL DEFAULT 'APPROVED',
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `whatsapp_templates_id` PRIMARY KEY(`id`),
	CONSTRAINT `whatsapp_templates_default_reason` UNIQUE(`default_for_reason`)
);
--> statement-breakpoint
CREATE INDEX `fdr_inbox_status_created` ON `fdr_inbox` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `notification_outbox_status_created` ON `notification_outbox` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `notification_outbox_shipment` ON `notification_outbox` (`shipment_id`);--> statement-breakpoint
CREATE INDEX `notification_outbox_gupshup` ON `notification_outbox` (`gupshup_message_id`);--> statement-breakpoint
CREATE INDEX `shipment_activity_shipment` ON `shipment_activity` (`shipment_id`,`occurred_at`);--> statement-breakpoint
CREATE INDEX `shipment_activity_unpublished` ON `shipment_activity` (`published_at`,`created_at`);--> statement-breakpoint
CREATE INDEX `whatsapp_sender_connections_account` ON `whatsapp_sender_connections` (`account_id`);--> statement-breakpoint
CREATE INDEX `whatsapp_status_logs_shipment` ON `whatsapp_status_logs` (`shipment_id`);--> statement-breakpoint
CREATE INDEX `whatsapp_status_logs_message` ON `whatsapp_status_logs` (`message_id`);