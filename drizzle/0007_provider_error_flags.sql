ALTER TABLE `whatsapp_templates` ADD `refused_code` varchar(32);--> statement-breakpoint
ALTER TABLE `whatsapp_templates` ADD `refused_reason` varchar(255);--> statement-breakpoint
ALTER TABLE `whatsapp_templates` ADD `refused_at` datetime(3);