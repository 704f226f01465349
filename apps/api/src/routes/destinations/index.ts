import type { ApiDeps } from '../../deps.ts';
import { createRouter } from '../../openapi.ts';
import * as createDestination from './create-destination.ts';
import * as deleteDestination from './delete-destination.ts';
import * as getDestination from './get-destination.ts';
import * as listDestinations from './list-destinations.ts';
import * as verifyDestination from './verify-destination.ts';

/** A tenant's AWS accounts: registration (ExternalId and what to deploy), verification, removal. */
export function destinationsApp(deps: ApiDeps) {
  return createRouter()
    .openapi(createDestination.route, createDestination.handler(deps))
    .openapi(listDestinations.route, listDestinations.handler(deps))
    .openapi(getDestination.route, getDestination.handler(deps))
    .openapi(deleteDestination.route, deleteDestination.handler(deps))
    .openapi(verifyDestination.route, verifyDestination.handler(deps));
}
