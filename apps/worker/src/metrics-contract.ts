// The CloudWatch metrics the Lambdas publish as EMF (docs/adr/0072). The central stack's alarms
// import this module (`@vsh/worker/metrics-contract`), so an alarm can only name a metric written
// here; it imports nothing, to stay cheap for infra/central to load.

/** The CloudWatch namespace of every connector metric. */
export const METRICS_NAMESPACE = 'Vaikora/Connector';

/** The dimension Powertools puts on every metric, and its value per function. */
export const SERVICE_DIMENSION = 'service';
export const SERVICES = { worker: 'worker', dispatcher: 'dispatcher' } as const;

/** Dimensions besides `service`, each over a small closed set. Tenant ids are never dimensions. */
export const DIMENSIONS = { status: 'Status', stage: 'Stage' } as const;

/** The property (not a dimension) that carries the tenant id on a tenant's EMF line. */
export const TENANT_PROPERTY = 'tenantId';

/** The `Status` value of a failed run (one of the run statuses `ok`, `partial`, `failed`). */
export const FAILED_RUN_STATUS = 'failed';

/** Metric names, one per Prometheus series of `metrics.ts`, plus the dispatcher's. */
export const METRIC_NAMES = {
  runs: 'Runs',
  runDuration: 'RunDuration',
  findingsImported: 'FindingsImported',
  actionsSkipped: 'ActionsSkipped',
  throttles: 'Throttles',
  recordsRejected: 'RecordsRejected',
  cursorLag: 'CursorLagSeconds',
  tenantsDispatched: 'TenantsDispatched',
} as const;
