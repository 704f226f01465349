ALTER TABLE "tenant_schedules" ADD COLUMN "quiet_state" jsonb;--> statement-breakpoint
ALTER TABLE "tenant_schedules" ADD COLUMN "lease_runs" integer DEFAULT 0 NOT NULL;