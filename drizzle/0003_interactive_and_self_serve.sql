CREATE TABLE `whatsapp_connection_features` (
	`connection_id` varchar(64) NOT NULL,
	`interactive_refused_at` datetime(3),
	`interactive_refusal` varchar(512),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `whatsapp_connection_features_connection_id` PRIMARY KEY(`connection_id`)
);
--> statement-breakpoint
ALTER TABLE `whatsapp_sender_connections` MODIFY COLUMN `userid_enc` text;--> statement-breakpoint
ALTER TABLE `whatsapp_sender_connections` MODIFY COLUMN `password_enc` text;--> statement-breakpoint
ALTER TABLE `notification_outbox` ADD `content` text;--> statement-breakpoint
ALTER TABLE `whatsapp_sender_connections` ADD `api` varchar(16) DEFAULT 'enterprise' NOT NULL;