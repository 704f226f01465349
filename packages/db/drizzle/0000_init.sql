CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text,
	"prefix" text NOT NULL,
	"hash" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_prefix_unique" UNIQUE("prefix"),
	CONSTRAINT "api_keys_hash_check" CHECK ("api_keys"."hash" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_log_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"tenant_id" text,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target" text,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"request_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "aws_destinations" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"account_id" text NOT NULL,
	"regions" jsonb NOT NULL,
	"role_arn" text,
	"external_id" text NOT NULL,
	"role_name" text NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"last_verified_at" timestamp with time zone,
	"last_verification" jsonb,
	"last_error" text,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"first_failure_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "aws_destinations_external_id_unique" UNIQUE("external_id"),
	CONSTRAINT "aws_destinations_tenant_account_unique" UNIQUE("tenant_id","account_id"),
	CONSTRAINT "aws_destinations_tenant_id_id_unique" UNIQUE("tenant_id","id"),
	CONSTRAINT "aws_destinations_account_id_check" CHECK ("aws_destinations"."account_id" ~ '^[0-9]{12}$'),
	CONSTRAINT "aws_destinations_regions_check" CHECK (jsonb_typeof("aws_destinations"."regions") = 'array' and jsonb_array_length("aws_destinations"."regions") >= 1),
	CONSTRAINT "aws_destinations_external_id_check" CHECK (length("aws_destinations"."external_id") between 2 and 1224 and "aws_destinations"."external_id" ~ '^[A-Za-z0-9_+=,.@:/-]+$'),
	CONSTRAINT "aws_destinations_role_name_check" CHECK ("aws_destinations"."role_name" ~ '^[A-Za-z0-9_+=,.@-]{1,64}$'),
	CONSTRAINT "aws_destinations_state_check" CHECK ("aws_destinations"."state" in ('pending', 'verified', 'active', 'degraded', 'disabled')),
	CONSTRAINT "aws_destinations_consecutive_failures_check" CHECK ("aws_destinations"."consecutive_failures" >= 0),
	CONSTRAINT "aws_destinations_role_arn_check" CHECK ("aws_destinations"."role_arn" is null or "aws_destinations"."role_arn" ~ '^arn:aws[a-z-]*:iam::[0-9]{12}:role/')
);
--> statement-breakpoint
CREATE TABLE "rejected_records" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"destination_id" text,
	"run_id" text,
	"action_id" text,
	"stage" text NOT NULL,
	"code" text NOT NULL,
	"reason" text NOT NULL,
	"raw" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rejected_records_stage_check" CHECK ("rejected_records"."stage" in ('parse', 'validate', 'import')),
	CONSTRAINT "rejected_records_raw_size_check" CHECK ("rejected_records"."raw" is null or octet_length("rejected_records"."raw"::text) <= 32768)
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"worker_id" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"status" text DEFAULT 'running' NOT NULL,
	"actions_read" integer DEFAULT 0 NOT NULL,
	"findings_mapped" integer DEFAULT 0 NOT NULL,
	"findings_imported" integer DEFAULT 0 NOT NULL,
	"actions_skipped" integer DEFAULT 0 NOT NULL,
	"records_rejected" integer DEFAULT 0 NOT NULL,
	"throttles" integer DEFAULT 0 NOT NULL,
	"lag_seconds" integer,
	"error_code" text,
	"error_message" text,
	"recent_findings" jsonb DEFAULT '[]'::jsonb NOT NULL,
	CONSTRAINT "runs_status_check" CHECK ("runs"."status" in ('running', 'ok', 'partial', 'failed')),
	CONSTRAINT "runs_finished_check" CHECK (("runs"."status" = 'running') = ("runs"."finished_at" is null)),
	CONSTRAINT "runs_counts_check" CHECK ("runs"."actions_read" >= 0 and "runs"."findings_mapped" >= 0 and "runs"."findings_imported" >= 0 and "runs"."actions_skipped" >= 0 and "runs"."records_rejected" >= 0 and "runs"."throttles" >= 0),
	CONSTRAINT "runs_recent_findings_check" CHECK (jsonb_typeof("runs"."recent_findings") = 'array' and jsonb_array_length("runs"."recent_findings") <= 50)
);
--> statement-breakpoint
CREATE TABLE "streams" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"destination_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"region" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "streams_route_unique" UNIQUE("destination_id","agent_id","region"),
	CONSTRAINT "streams_region_check" CHECK ("streams"."region" ~ '^[a-z]{2}(-[a-z]+)+-[0-9]+$'),
	CONSTRAINT "streams_agent_id_check" CHECK (length("streams"."agent_id") between 1 and 256)
);
--> statement-breakpoint
CREATE TABLE "tenant_schedules" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"next_run_at" timestamp with time zone DEFAULT now() NOT NULL,
	"run_requested_at" timestamp with time zone,
	"last_run_started_at" timestamp with time zone,
	"last_run_finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"state" text DEFAULT 'active' NOT NULL,
	"plan" text DEFAULT 'standard' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"offboarded_at" timestamp with time zone,
	CONSTRAINT "tenants_state_check" CHECK ("tenants"."state" in ('active', 'offboarded')),
	CONSTRAINT "tenants_offboarded_at_check" CHECK (("tenants"."state" = 'offboarded') = ("tenants"."offboarded_at" is not null)),
	CONSTRAINT "tenants_name_check" CHECK (length("tenants"."name") between 1 and 200)
);
--> statement-breakpoint
CREATE TABLE "vaikora_settings" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"base_url" text NOT NULL,
	"agent_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"thresholds" jsonb DEFAULT '{"minRiskLevel":"high","includeAnomalies":true,"includeThreats":true}'::jsonb NOT NULL,
	"poll_interval_seconds" integer DEFAULT 300 NOT NULL,
	"time_filter_param" text,
	"api_key_ciphertext" text NOT NULL,
	"api_key_key_id" text NOT NULL,
	"verified_at" timestamp with time zone,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "vaikora_settings_poll_interval_check" CHECK ("vaikora_settings"."poll_interval_seconds" >= 60),
	CONSTRAINT "vaikora_settings_agent_ids_check" CHECK (jsonb_typeof("vaikora_settings"."agent_ids") = 'array'),
	CONSTRAINT "vaikora_settings_thresholds_check" CHECK (jsonb_typeof("vaikora_settings"."thresholds") = 'object'),
	CONSTRAINT "vaikora_settings_base_url_check" CHECK ("vaikora_settings"."base_url" ~ '^https?://')
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "aws_destinations" ADD CONSTRAINT "aws_destinations_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rejected_records" ADD CONSTRAINT "rejected_records_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rejected_records" ADD CONSTRAINT "rejected_records_destination_id_aws_destinations_id_fk" FOREIGN KEY ("destination_id") REFERENCES "public"."aws_destinations"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rejected_records" ADD CONSTRAINT "rejected_records_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "streams" ADD CONSTRAINT "streams_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "streams" ADD CONSTRAINT "streams_destination_fk" FOREIGN KEY ("tenant_id","destination_id") REFERENCES "public"."aws_destinations"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tenant_schedules" ADD CONSTRAINT "tenant_schedules_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vaikora_settings" ADD CONSTRAINT "vaikora_settings_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_tenant_id_idx" ON "api_keys" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "audit_log_tenant_created_idx" ON "audit_log" USING btree ("tenant_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "rejected_records_tenant_created_idx" ON "rejected_records" USING btree ("tenant_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "rejected_records_run_id_idx" ON "rejected_records" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "runs_tenant_started_idx" ON "runs" USING btree ("tenant_id","started_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "streams_tenant_id_idx" ON "streams" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "tenant_schedules_next_run_at_idx" ON "tenant_schedules" USING btree ("next_run_at");