import { sql } from 'drizzle-orm';
import { boolean, check, foreignKey, index, pgTable, text, unique } from 'drizzle-orm/pg-core';
import { awsDestinations } from './aws-destinations.ts';
import { idColumn, timestamps } from './columns.ts';
import { tenants } from './tenants.ts';

/**
 * A route: one Vaikora agent's actions go to one destination account in one region. The id is what the
 * worker keys its DynamoDB cursor by, so it is a stored, never-reused id rather than something derived
 * from the tenant's settings; editing the agent list or regions adds or removes rows, and a removed
 * route's cursor is simply never read again. The composite foreign key keeps a stream and its
 * destination in the same tenant.
 */
export const streams = pgTable(
  'streams',
  {
    id: idColumn('str'),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    destinationId: text('destination_id').notNull(),
    agentId: text('agent_id').notNull(),
    region: text('region').notNull(),
    enabled: boolean('enabled').notNull().default(true),
    ...timestamps(),
  },
  (t) => [
    foreignKey({
      name: 'streams_destination_fk',
      columns: [t.tenantId, t.destinationId],
      foreignColumns: [awsDestinations.tenantId, awsDestinations.id],
    }).onDelete('cascade'),
    unique('streams_route_unique').on(t.destinationId, t.agentId, t.region),
    index('streams_tenant_id_idx').on(t.tenantId),
    check('streams_region_check', sql`${t.region} ~ '^[a-z]{2}(-[a-z]+)+-[0-9]+$'`),
    check('streams_agent_id_check', sql`length(${t.agentId}) between 1 and 256`),
  ],
);

export type Stream = typeof streams.$inferSelect;
export type NewStream = typeof streams.$inferInsert;
