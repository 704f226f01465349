import { relations } from 'drizzle-orm';
import { apiKeys } from './api-keys.ts';
import { awsDestinations } from './aws-destinations.ts';
import { rejectedRecords } from './rejected-records.ts';
import { runs } from './runs.ts';
import { streams } from './streams.ts';
import { tenantSchedules } from './tenant-schedules.ts';
import { tenants } from './tenants.ts';
import { vaikoraSettings } from './vaikora-settings.ts';

// Relations only serve `db.query.*` (relational queries); they create nothing in SQL.
export const tenantsRelations = relations(tenants, ({ one, many }) => ({
  vaikoraSettings: one(vaikoraSettings),
  schedule: one(tenantSchedules),
  apiKeys: many(apiKeys),
  destinations: many(awsDestinations),
  streams: many(streams),
  runs: many(runs),
}));

export const vaikoraSettingsRelations = relations(vaikoraSettings, ({ one }) => ({
  tenant: one(tenants, { fields: [vaikoraSettings.tenantId], references: [tenants.id] }),
}));

export const tenantSchedulesRelations = relations(tenantSchedules, ({ one }) => ({
  tenant: one(tenants, { fields: [tenantSchedules.tenantId], references: [tenants.id] }),
}));

export const apiKeysRelations = relations(apiKeys, ({ one }) => ({
  tenant: one(tenants, { fields: [apiKeys.tenantId], references: [tenants.id] }),
}));

export const awsDestinationsRelations = relations(awsDestinations, ({ one, many }) => ({
  tenant: one(tenants, { fields: [awsDestinations.tenantId], references: [tenants.id] }),
  streams: many(streams),
}));

export const streamsRelations = relations(streams, ({ one }) => ({
  tenant: one(tenants, { fields: [streams.tenantId], references: [tenants.id] }),
  destination: one(awsDestinations, { fields: [streams.destinationId], references: [awsDestinations.id] }),
}));

export const runsRelations = relations(runs, ({ one, many }) => ({
  tenant: one(tenants, { fields: [runs.tenantId], references: [tenants.id] }),
  rejectedRecords: many(rejectedRecords),
}));

export const rejectedRecordsRelations = relations(rejectedRecords, ({ one }) => ({
  tenant: one(tenants, { fields: [rejectedRecords.tenantId], references: [tenants.id] }),
  run: one(runs, { fields: [rejectedRecords.runId], references: [runs.id] }),
  destination: one(awsDestinations, {
    fields: [rejectedRecords.destinationId],
    references: [awsDestinations.id],
  }),
}));
