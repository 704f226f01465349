import { type RouteHandler, z } from '@hono/zod-openapi';
import { destinationDeliveries, destinationStates } from '@vsh/db';
import type { ApiDeps, AppEnv } from '../../deps.ts';
import { defineRoute, jsonResponse, tenantIdParam, timestamp } from '../../openapi.ts';
import { tenantForecast } from '../../services/forecast.ts';

const usd = z.number().nonnegative().openapi({ description: 'US dollars, to the cent.' });
const events = z.number().int().nonnegative();

const forecastSchema = z
  .object({
    tenantId: z.string(),
    generatedAt: timestamp,
    windowDays: z
      .number()
      .int()
      .openapi({ description: 'The rate is measured over this many recent days (or a younger history).' }),
    price: z
      .object({
        usdPerEvent: z.number().openapi({ description: 'Per finding ingestion event above the free tier.' }),
        freeEventsPerAccountRegionMonth: z.number().int(),
        source: z.string().openapi({ description: 'Where the price was read.' }),
        checkedOn: z.string().openapi({ description: 'When the price was last checked (YYYY-MM-DD).' }),
      })
      .openapi({ description: 'Security Hub CSPM finding ingestion as listed for us-east-1.' }),
    totals: z.object({
      findingsPerMonth: events,
      usdPerMonth: usd,
      usdPerMonthWithoutFreeTier: usd,
    }),
    destinations: z.array(
      z.object({
        id: z.string(),
        accountId: z.string(),
        regions: z.array(z.string()),
        state: z.enum(destinationStates),
        delivery: z.enum(destinationDeliveries).openapi({
          description:
            'security_lake: the findings are Security Lake objects, which Security Hub does not bill (its costs are 0).',
        }),
        basis: z.enum(['none', 'partial', 'window']).openapi({
          description:
            'none: no run reached the destination in the window; partial: measured since its first run, younger than the window; window: the whole window.',
        }),
        observedFrom: timestamp.nullable().openapi({ description: "Where the rate's measurement starts." }),
        observedHours: z.number().nonnegative(),
        runs: z.number().int().nonnegative(),
        importedObserved: events.openapi({
          description: 'Findings Security Hub took over the measurement, every region summed.',
        }),
        findingsPerMonth: events.openapi({
          description:
            'Finding ingestion events per 30-day month at the measured rate, every region summed (updates of a finding included).',
        }),
        findingsPerRegionPerMonth: events,
        billableEventsPerMonth: events.openapi({ description: "Above each region's free tier." }),
        usdPerMonth: usd.openapi({
          description: "With each region's free tier, as if the connector were the account's only source.",
        }),
        usdPerMonthWithoutFreeTier: usd.openapi({
          description: "If other sources already use the account's free tier: every event billed.",
        }),
      }),
    ),
  })
  .openapi('TenantForecast');

/** GET /v1/tenants/{tenantId}/forecast: its schemas, access and documented answers. */
export const route = defineRoute('tenant', {
  method: 'get',
  path: '/tenants/{tenantId}/forecast',
  operationId: 'getTenantForecast',
  tags: ['status'],
  summary: 'Findings per month and the Security Hub bill for them, per destination, at the recent rate',
  description:
    "Extrapolates the last 7 days' imports (or a younger destination's since its first run) to a 30-day month and prices them as Security Hub CSPM bills finding ingestion events: per account and region, after a monthly free tier. Lower the tenant's thresholds to lower the figure.",
  request: { params: z.object({ tenantId: tenantIdParam }) },
  responses: {
    200: jsonResponse('The forecast.', forecastSchema, {
      tenantId: 'ten_01jd0000000000000000000000',
      generatedAt: '2026-01-08T12:00:00.000Z',
      windowDays: 7,
      price: {
        usdPerEvent: 0.00003,
        freeEventsPerAccountRegionMonth: 10_000,
        source: 'https://aws.amazon.com/security-hub/cspm/pricing/',
        checkedOn: '2026-12-04',
      },
      totals: { findingsPerMonth: 60_000, usdPerMonth: 1.2, usdPerMonthWithoutFreeTier: 1.8 },
      destinations: [
        {
          id: 'dst_01jd0000000000000000000000',
          accountId: '123456789012',
          regions: ['us-east-1', 'eu-west-1'],
          state: 'active',
          delivery: 'role',
          basis: 'window',
          observedFrom: '2026-01-01T12:00:00.000Z',
          observedHours: 168,
          runs: 2016,
          importedObserved: 14_000,
          findingsPerMonth: 60_000,
          findingsPerRegionPerMonth: 30_000,
          billableEventsPerMonth: 40_000,
          usdPerMonth: 1.2,
          usdPerMonthWithoutFreeTier: 1.8,
        },
      ],
    }),
  },
});

/** The handler of GET /v1/tenants/{tenantId}/forecast, bound to the app's dependencies. */
export function handler(deps: ApiDeps): RouteHandler<typeof route, AppEnv> {
  return async (c) => c.json(await tenantForecast(deps, c.get('tenant')), 200);
}
