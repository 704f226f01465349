DROP INDEX "rejected_records_tenant_last_seen_idx";--> statement-breakpoint
DROP INDEX "runs_tenant_started_idx";--> statement-breakpoint
CREATE INDEX "rejected_records_tenant_created_idx" ON "rejected_records" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "runs_tenant_id_idx" ON "runs" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE INDEX "runs_tenant_imported_idx" ON "runs" USING btree ("tenant_id","started_at") WHERE "runs"."findings_imported" > 0;--> statement-breakpoint
CREATE INDEX "tenants_name_idx" ON "tenants" USING btree ("name","id");--> statement-breakpoint
CREATE INDEX "rejected_records_tenant_last_seen_idx" ON "rejected_records" USING btree ("tenant_id","last_seen_at","id");--> statement-breakpoint
CREATE INDEX "runs_tenant_started_idx" ON "runs" USING btree ("tenant_id","started_at");