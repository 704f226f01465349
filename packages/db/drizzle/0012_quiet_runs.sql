ALTER TABLE "runs" ADD COLUMN "quiet" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "tenant_schedules" ADD COLUMN "last_run_quiet" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_quiet_check" CHECK (not "runs"."quiet" or ("runs"."status" = 'ok' and "runs"."findings_imported" = 0));