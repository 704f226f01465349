CREATE TABLE "backfills" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"destination_id" text,
	"from_at" timestamp with time zone NOT NULL,
	"to_at" timestamp with time zone NOT NULL,
	"state" text DEFAULT 'queued' NOT NULL,
	"worker_id" text,
	"progress_percent" integer DEFAULT 0 NOT NULL,
	"pages" integer DEFAULT 0 NOT NULL,
	"actions_read" integer DEFAULT 0 NOT NULL,
	"actions_in_range" integer DEFAULT 0 NOT NULL,
	"findings_imported" integer DEFAULT 0 NOT NULL,
	"records_rejected" integer DEFAULT 0 NOT NULL,
	"actions_skipped" integer DEFAULT 0 NOT NULL,
	"error_code" text,
	"error_message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"heartbeat_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "backfills_state_check" CHECK ("backfills"."state" in ('queued', 'running', 'done', 'failed')),
	CONSTRAINT "backfills_range_check" CHECK ("backfills"."from_at" < "backfills"."to_at"),
	CONSTRAINT "backfills_finished_check" CHECK (("backfills"."state" in ('done', 'failed')) = ("backfills"."finished_at" is not null)),
	CONSTRAINT "backfills_counts_check" CHECK ("backfills"."progress_percent" between 0 and 100 and "backfills"."pages" >= 0 and "backfills"."actions_read" >= 0 and "backfills"."actions_in_range" >= 0 and "backfills"."findings_imported" >= 0 and "backfills"."records_rejected" >= 0 and "backfills"."actions_skipped" >= 0)
);
--> statement-breakpoint
ALTER TABLE "backfills" ADD CONSTRAINT "backfills_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backfills" ADD CONSTRAINT "backfills_destination_id_aws_destinations_id_fk" FOREIGN KEY ("destination_id") REFERENCES "public"."aws_destinations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "backfills_tenant_created_idx" ON "backfills" USING btree ("tenant_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "backfills_state_created_idx" ON "backfills" USING btree ("state","created_at");