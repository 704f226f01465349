import type { ApiDeps } from '../../deps.ts';
import { createRouter } from '../../openapi.ts';
import * as getForecast from './get-forecast.ts';
import * as getStatus from './get-status.ts';
import * as listRejectedRecords from './list-rejected-records.ts';
import * as listRuns from './list-runs.ts';
import * as runNow from './run-now.ts';

/** What ingestion is doing for a tenant, and "run now". */
export function statusApp(deps: ApiDeps) {
  return createRouter()
    .openapi(getStatus.route, getStatus.handler(deps))
    .openapi(getForecast.route, getForecast.handler(deps))
    .openapi(listRuns.route, listRuns.handler(deps))
    .openapi(listRejectedRecords.route, listRejectedRecords.handler(deps))
    .openapi(runNow.route, runNow.handler(deps));
}
