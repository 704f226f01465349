CREATE TABLE "org_accounts" (
	"tenant_id" text NOT NULL,
	"account_id" text NOT NULL,
	"registration_id" text NOT NULL,
	"destination_id" text,
	"role_arn" text NOT NULL,
	"regions" jsonb NOT NULL,
	"state" text NOT NULL,
	"reason" text,
	"last_verification" jsonb,
	"removed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "org_accounts_pkey" PRIMARY KEY("tenant_id","account_id"),
	CONSTRAINT "org_accounts_account_id_check" CHECK ("org_accounts"."account_id" ~ '^[0-9]{12}$'),
	CONSTRAINT "org_accounts_state_check" CHECK ("org_accounts"."state" in ('verified', 'failed', 'removed')),
	CONSTRAINT "org_accounts_regions_check" CHECK (jsonb_typeof("org_accounts"."regions") = 'array' and jsonb_array_length("org_accounts"."regions") <= 32 and jsonb_array_length("org_accounts"."regions") >= 1),
	CONSTRAINT "org_accounts_role_arn_check" CHECK ("org_accounts"."role_arn" ~ '^arn:aws[a-z-]*:iam::[0-9]{12}:role/')
);
--> statement-breakpoint
CREATE TABLE "org_registrations" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"hash" text NOT NULL,
	"external_id_prefix" text NOT NULL,
	"role_name" text NOT NULL,
	"regions" jsonb NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "org_registrations_prefix_unique" UNIQUE("prefix"),
	CONSTRAINT "org_registrations_external_id_prefix_unique" UNIQUE("external_id_prefix"),
	CONSTRAINT "org_registrations_hash_check" CHECK ("org_registrations"."hash" ~ '^[0-9a-f]{64}$'),
	CONSTRAINT "org_registrations_external_id_prefix_check" CHECK ("org_registrations"."external_id_prefix" ~ '^[A-Za-z0-9_-]{31}$'),
	CONSTRAINT "org_registrations_role_name_check" CHECK ("org_registrations"."role_name" ~ '^[A-Za-z0-9_+=,.@-]{1,64}$'),
	CONSTRAINT "org_registrations_regions_check" CHECK (jsonb_typeof("org_registrations"."regions") = 'array' and jsonb_array_length("org_registrations"."regions") <= 32 and jsonb_array_length("org_registrations"."regions") >= 1)
);
--> statement-breakpoint
ALTER TABLE "org_accounts" ADD CONSTRAINT "org_accounts_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "org_accounts" ADD CONSTRAINT "org_accounts_registration_id_org_registrations_id_fk" FOREIGN KEY ("registration_id") REFERENCES "public"."org_registrations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "org_accounts" ADD CONSTRAINT "org_accounts_destination_id_aws_destinations_id_fk" FOREIGN KEY ("destination_id") REFERENCES "public"."aws_destinations"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "org_registrations" ADD CONSTRAINT "org_registrations_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "org_accounts_registration_id_idx" ON "org_accounts" USING btree ("registration_id");--> statement-breakpoint
CREATE INDEX "org_registrations_tenant_id_idx" ON "org_registrations" USING btree ("tenant_id");