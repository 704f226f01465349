CREATE TABLE "web_sign_in_links" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"api_key_id" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	CONSTRAINT "web_sign_in_links_token_hash_unique" UNIQUE("token_hash"),
	CONSTRAINT "web_sign_in_links_token_hash_check" CHECK ("web_sign_in_links"."token_hash" ~ '^[0-9a-f]{64}$'),
	CONSTRAINT "web_sign_in_links_expiry_check" CHECK ("web_sign_in_links"."expires_at" > "web_sign_in_links"."created_at")
);
--> statement-breakpoint
ALTER TABLE "aws_destinations" ADD COLUMN "agent_ids" text[];--> statement-breakpoint
ALTER TABLE "web_sign_in_links" ADD CONSTRAINT "web_sign_in_links_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "web_sign_in_links" ADD CONSTRAINT "web_sign_in_links_api_key_id_api_keys_id_fk" FOREIGN KEY ("api_key_id") REFERENCES "public"."api_keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "web_sign_in_links_tenant_id_idx" ON "web_sign_in_links" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "web_sign_in_links_api_key_id_idx" ON "web_sign_in_links" USING btree ("api_key_id");--> statement-breakpoint
CREATE INDEX "web_sign_in_links_expires_at_idx" ON "web_sign_in_links" USING btree ("expires_at");--> statement-breakpoint
ALTER TABLE "aws_destinations" ADD CONSTRAINT "aws_destinations_agent_ids_check" CHECK ("aws_destinations"."agent_ids" is null or (cardinality("aws_destinations"."agent_ids") between 1 and 100 and array_position("aws_destinations"."agent_ids", null) is null));