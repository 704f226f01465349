/**
 * The fault-injecting AWS proxy (docs/adr/0010-fault-injecting-proxy.md). Its parts live in
 * `fault-proxy/`: `wire` (protocols), `throttle`, `faults` (the fault plan), `securityhub-store` and
 * `findings-filter` (the memory Security Hub), `iam` (ExternalId checks), `stats`, `upstream`,
 * `options` and `server`. This module is their public face.
 */
export type { FaultRules } from './fault-proxy/faults.ts';

export { FaultProxyError, type FaultProxyErrorCode, type FaultProxyOptions } from './fault-proxy/options.ts';
export type { AsffFinding } from './fault-proxy/securityhub-store.ts';
export { type FaultProxy, startFaultProxy } from './fault-proxy/server.ts';
export type {
  FaultProxyStats,
  OperationStats,
  SecurityHubImportStats,
} from './fault-proxy/stats.ts';
export { SECURITY_HUB_RATE_LIMITS } from './fault-proxy/throttle.ts';
