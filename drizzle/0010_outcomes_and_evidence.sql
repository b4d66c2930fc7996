CREATE TABLE `whatsapp_attempt_outcomes` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`shipment_id` varchar(64) NOT NULL,
	`attempt` int NOT NULL,
	`account_id` int NOT NULL,
	`reason` varchar(32),
	`courier` varchar(64),
	`template_id` varchar(128),
	`outbox_id` bigint unsigned,
	`messaged` tinyint NOT NULL DEFAULT 0,
	`not_messaged_code` varchar(32),
	`failed_at` datetime(3) NOT NULL,
	`sent_at` datetime(3),
	`delivered_at` datetime(3),
	`read_at` datetime(3),
	`replied_at` datetime(3),
	`action` varchar(32),
	`action_at` datetime(3),
	`chosen_date` date,
	`out_for_delivery_at` datetime(3),
	`outcome` varchar(16) NOT NULL DEFAULT 'open',
	`outcome_status` varchar(32),
	`next_reason` varchar(32),
	`outcome_at` datetime(3),
	`not_honoured` varchar(32),
	`not_honoured_at` datetime(3),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	`updated_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `whatsapp_attempt_outcomes_id` PRIMARY KEY(`id`),
	CONSTRAINT `whatsapp_attempt_outcomes_attempt` UNIQUE(`shipment_id`,`attempt`)
);
--> statement-breakpoint
CREATE TABLE `whatsapp_reply_evidence` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`reply_id` bigint unsigned NOT NULL,
	`webhook_event_id` bigint unsigned NOT NULL,
	`shipment_id` varchar(64) NOT NULL,
	`account_id` int NOT NULL,
	`attempt` int,
	`gupshup_message_id` varchar(191) NOT NULL,
	`callback_at` datetime(3),
	`choice` varchar(32) NOT NULL,
	`detail` varchar(512),
	`body_sha256` char(64) NOT NULL,
	`raw_body` mediumtext,
	`erased_at` datetime(3),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `whatsapp_reply_evidence_id` PRIMARY KEY(`id`),
	CONSTRAINT `whatsapp_reply_evidence_reply` UNIQUE(`reply_id`)
);
--> statement-breakpoint
ALTER TABLE `webhook_events` ADD `raw_body` mediumtext;--> statement-breakpoint
ALTER TABLE `webhook_events` ADD `body_sha256` char(64);--> statement-breakpoint
CREATE INDEX `whatsapp_attempt_outcomes_account_failed` ON `whatsapp_attempt_outcomes` (`account_id`,`failed_at`);--> statement-breakpoint
CREATE INDEX `whatsapp_attempt_outcomes_failed` ON `whatsapp_attempt_outcomes` (`failed_at`);--> statement-breakpoint
CREATE INDEX `whatsapp_attempt_outcomes_open_chosen` ON `whatsapp_attempt_outcomes` (`outcome`,`chosen_date`);--> statement-breakpoint
CREATE INDEX `whatsapp_reply_evidence_shipment` ON `whatsapp_reply_evidence` (`shipment_id`,`id`);--> statement-breakpoint
CREATE INDEX `whatsapp_reply_evidence_created` ON `whatsapp_reply_evidence` (`created_at`);--> statement-breakpoint
CREATE INDEX `whatsapp_replies_received` ON `whatsapp_replies` (`received_at`);