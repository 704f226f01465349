import { z } from '@hono/zod-openapi';
import { CHECKLIST_STATES, HEALTH_STATUSES } from '@vsh/core';
import { type ApiKey, type DestinationState, destinationStates, type Tenant, tenantStates } from '@vsh/db';
import { iso, timestamp } from '../../openapi.ts';
import type { CreatedApiKey } from '../../services/api-keys.ts';

/** A tenant's health (ADR 0100). */
const checklistState = z.enum(CHECKLIST_STATES);

const healthSchema = z
  .object({
    status: z.enum(HEALTH_STATUSES).openapi({
      description:
        'One word from the shared health model (ADR 0100), worst first: failing, attention, setup, healthy, offboarded. The CLI and the web pages show the same word.',
    }),
    reasons: z.array(z.string()).openapi({ description: 'Why the status is what it is, for a person.' }),
    checklist: z
      .object({ vaikora: checklistState, aws: checklistState, firstFinding: checklistState })
      .openapi({ description: 'The onboarding steps: done, todo or problem.' }),
    destinations: z.object(
      Object.fromEntries(destinationStates.map((state) => [state, z.number().int()])) as Record<
        DestinationState,
        z.ZodNumber
      >,
    ),
    vaikora: z.object({
      configured: z.boolean(),
      verifiedAt: timestamp.nullable(),
      lastError: z.string().nullable(),
    }),
    lastRun: z
      .object({
        id: z.string(),
        status: z.enum(['running', 'ok', 'partial', 'failed']),
        startedAt: timestamp,
        finishedAt: timestamp.nullable(),
      })
      .nullable(),
  })
  .openapi('TenantHealth');

export const tenantSchema = z
  .object({
    id: z.string().openapi({ example: 'ten_01jd0000000000000000000000' }),
    name: z.string(),
    plan: z.string(),
    state: z.enum(tenantStates),
    createdAt: timestamp,
    updatedAt: timestamp,
    offboardedAt: timestamp.nullable(),
  })
  .openapi('Tenant');

export const tenantWithHealthSchema = tenantSchema
  .extend({ health: healthSchema })
  .openapi('TenantWithHealth');

/** A tenant as the examples of the OpenAPI document show it. */
export const TENANT_EXAMPLE = {
  id: 'ten_01jd0000000000000000000000',
  name: 'Acme Corp',
  plan: 'standard',
  state: 'active',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  offboardedAt: null,
} satisfies z.infer<typeof tenantSchema>;

/** A tenant with its health, as the examples of the OpenAPI document show it. */
export const TENANT_WITH_HEALTH_EXAMPLE = {
  ...TENANT_EXAMPLE,
  health: {
    status: 'healthy',
    reasons: [],
    checklist: { vaikora: 'done', aws: 'done', firstFinding: 'done' },
    destinations: { pending: 0, verified: 0, active: 1, degraded: 0, disabled: 0 },
    vaikora: { configured: true, verifiedAt: '2026-01-01T00:05:00.000Z', lastError: null },
    lastRun: {
      id: 'run_01jd0000000000000000000000',
      status: 'ok',
      startedAt: '2026-01-02T00:00:00.000Z',
      finishedAt: '2026-01-02T00:00:03.000Z',
    },
  },
} satisfies z.infer<typeof tenantWithHealthSchema>;

/** A tenant row as the API shows it. */
export function toTenant(tenant: Tenant): z.infer<typeof tenantSchema> {
  return {
    id: tenant.id,
    name: tenant.name,
    plan: tenant.plan,
    state: tenant.state,
    createdAt: iso(tenant.createdAt),
    updatedAt: iso(tenant.updatedAt),
    offboardedAt: iso(tenant.offboardedAt),
  };
}

export const apiKeySchema = z
  .object({
    id: z.string().openapi({ example: 'key_01jd0000000000000000000000' }),
    tenantId: z.string(),
    name: z.string(),
    prefix: z.string().openapi({ description: 'The first 16 characters of the key, to recognise it.' }),
    createdAt: timestamp,
    lastUsedAt: timestamp.nullable(),
    revokedAt: timestamp.nullable(),
  })
  .openapi('ApiKey');

export const createdApiKeySchema = apiKeySchema
  .extend({
    key: z
      .string()
      .openapi({ description: 'The whole key. Shown once, in this response only; store it now.' }),
  })
  .openapi('CreatedApiKey');

/** An API key as the examples of the OpenAPI document show it. */
export const API_KEY_EXAMPLE = {
  id: 'key_01jd0000000000000000000000',
  tenantId: 'ten_01jd0000000000000000000000',
  name: 'default',
  prefix: 'vsh_0123456789ab',
  createdAt: '2026-01-01T00:00:00.000Z',
  lastUsedAt: null,
  revokedAt: null,
} satisfies z.infer<typeof apiKeySchema>;

/** A just-created API key as the examples show it; the key is a made-up value of the right shape. */
export const CREATED_API_KEY_EXAMPLE = {
  ...API_KEY_EXAMPLE,
  key: 'vsh_0123456789ab_example-only-not-a-real-key-000000000000000',
} satisfies z.infer<typeof createdApiKeySchema>;

/** An API key row as the API shows it: prefix and dates, never the hash. */
export function toApiKey(row: ApiKey): z.infer<typeof apiKeySchema> {
  return {
    id: row.id,
    tenantId: row.tenantId ?? '',
    name: row.name,
    prefix: row.prefix,
    createdAt: iso(row.createdAt),
    lastUsedAt: iso(row.lastUsedAt),
    revokedAt: iso(row.revokedAt),
  };
}

/** A just-created API key as the API shows it: with the whole key, this once. */
export function toCreatedApiKey(created: CreatedApiKey): z.infer<typeof createdApiKeySchema> {
  return { ...toApiKey(created.row), key: created.key };
}
