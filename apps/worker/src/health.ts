import type { DestinationState } from '@vsh/db';

/** When repeated access failures degrade, then disable, a destination. */
export interface HealthPolicy {
  /** Failures in a row before a destination is degraded. */
  readonly degradeAfterFailures: number;
  /** Failures in a row, and time since the first of them, before it is disabled (no more attempts). */
  readonly disableAfterFailures: number;
  readonly disableAfterMs: number;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = {
  degradeAfterFailures: 2,
  disableAfterFailures: 5,
  disableAfterMs: 15 * 60_000,
};

export interface DestinationHealth {
  readonly state: DestinationState;
  readonly consecutiveFailures: number;
  readonly firstFailureAtMs: number | null;
}

/**
 * The state after a failed attempt. `canDisable` is false for failures that are not the destination's
 * fault (a bad Vaikora key): those degrade but never disable, since fixing the key must be enough.
 */
export function afterFailure(
  health: DestinationHealth,
  nowMs: number,
  policy: HealthPolicy,
  canDisable: boolean,
): DestinationHealth {
  const consecutiveFailures = health.consecutiveFailures + 1;
  const firstFailureAtMs = health.firstFailureAtMs ?? nowMs;
  let state: DestinationState = health.state;
  if (state !== 'disabled' && consecutiveFailures >= policy.degradeAfterFailures) state = 'degraded';
  if (
    canDisable &&
    consecutiveFailures >= policy.disableAfterFailures &&
    nowMs - firstFailureAtMs >= policy.disableAfterMs
  ) {
    state = 'disabled';
  }
  return { state, consecutiveFailures, firstFailureAtMs };
}

/** The state after a successful run: active, failures forgotten. */
export function afterSuccess(): DestinationHealth {
  return { state: 'active', consecutiveFailures: 0, firstFailureAtMs: null };
}

/** Destinations in these states are worked on; `pending` ones are not verified yet, `disabled` ones wait for a new verification. */
export const RUNNABLE_STATES: readonly DestinationState[] = ['verified', 'active', 'degraded'];
