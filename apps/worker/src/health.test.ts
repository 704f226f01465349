import { describe, expect, it } from 'vitest';
import { afterFailure, afterSuccess, type DestinationHealth, type HealthPolicy } from './health.ts';

const policy: HealthPolicy = { degradeAfterFailures: 2, disableAfterFailures: 4, disableAfterMs: 60_000 };
const active: DestinationHealth = { state: 'active', consecutiveFailures: 0, firstFailureAtMs: null };

describe('destination health', () => {
  it('degrades after repeated failures, then disables after enough failures over enough time', () => {
    let h = afterFailure(active, 0, policy, true);
    expect(h).toEqual({ state: 'active', consecutiveFailures: 1, firstFailureAtMs: 0 });
    h = afterFailure(h, 10_000, policy, true);
    expect(h.state).toBe('degraded');
    h = afterFailure(h, 20_000, policy, true);
    h = afterFailure(h, 30_000, policy, true);
    expect(h.state).toBe('degraded');
    h = afterFailure(h, 60_000, policy, true);
    expect(h).toEqual({ state: 'disabled', consecutiveFailures: 5, firstFailureAtMs: 0 });
  });

  it('never disables for failures that are not the destination fault', () => {
    let h = active;
    for (let i = 0; i < 20; i++) h = afterFailure(h, i * 60_000, policy, false);

    expect(h.state).toBe('degraded');
  });

  it('recovers to active on success', () => {
    expect(afterSuccess()).toEqual(active);
  });
});
