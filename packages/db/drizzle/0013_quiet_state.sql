ALTER TABLE "tenant_schedules" ADD COLUMN "quiet_state" jsonb;--> statement-breakpoint
ALTER TABLE "tenant_schedules" ADD COLUMN "lease_run_started_at" timestamp with time zone;