import { DEFAULT_THRESHOLDS } from '@vsh/core';
import { Secret } from '@vsh/secrets';
import type { DestinationConfig, StreamConfig, TenantConfig } from './ports.ts';

// Fixtures for the unit tests of runs and backfills: a tenant, its destinations, Vaikora records.

/** An active destination in `accountId`, with its role; `over` changes any field. */
export function testDestination(
  id: string,
  accountId: string,
  over: Partial<DestinationConfig> = {},
): DestinationConfig {
  return {
    id,
    accountId,
    partition: 'aws',
    roleArn: `arn:aws:iam::${accountId}:role/VaikoraSecurityHubImport`,
    externalId: 'x'.repeat(32),
    state: 'active',
    health: { state: 'active', consecutiveFailures: 0, firstFailureAtMs: null },
    ...over,
  };
}

/** Tenant `ten_1` with a Vaikora connection at the default thresholds. */
export function testTenant(
  destinations: readonly DestinationConfig[],
  streams: readonly StreamConfig[],
): TenantConfig {
  return {
    tenantId: 'ten_1',
    vaikora: {
      baseUrl: 'https://vaikora.example/api/v1',
      apiKey: new Secret('vk_test_x'),
      timeFilterParam: null,
      thresholds: DEFAULT_THRESHOLDS,
      pollIntervalSeconds: 300,
    },
    destinations,
    streams,
  };
}

/** A Vaikora record as the API lists it: `high` qualifies under the default thresholds, `low` is skipped. */
export function testAction(id: string, agentId: string, timestampMs: number, risk: 'high' | 'low' = 'high') {
  return {
    id,
    agent_id: agentId,
    action_type: 'api_call',
    risk_level: risk,
    risk_score: risk === 'high' ? 80 : 5,
    timestamp: new Date(timestampMs).toISOString(),
  };
}

/** A tenant with one destination and one stream (agent `agt-1`, us-east-1): most run tests need no more. */
export const ONE_STREAM_TENANT: TenantConfig = testTenant(
  [testDestination('dst_1', '123456789012')],
  [{ id: 'str_1', destinationId: 'dst_1', agentId: 'agt-1', region: 'us-east-1' }],
);
