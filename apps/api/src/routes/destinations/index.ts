import type { ApiDeps } from '../../deps.ts';
import { createRouter } from '../../openapi.ts';
import * as createDestination from './create-destination.ts';
import * as deleteDestination from './delete-destination.ts';
import * as getDestination from './get-destination.ts';
import * as listDestinations from './list-destinations.ts';
import * as localDeploy from './local-deploy.ts';
import * as setDestinationHeartbeat from './set-destination-heartbeat.ts';
import * as updateDestination from './update-destination.ts';
import * as verifyDestination from './verify-destination.ts';

/** A tenant's AWS accounts: registration (ExternalId and what to deploy), verification, removal. */
export function destinationsApp(deps: ApiDeps) {
  const router = createRouter()
    .openapi(createDestination.route, createDestination.handler(deps))
    .openapi(listDestinations.route, listDestinations.handler(deps))
    .openapi(getDestination.route, getDestination.handler(deps))
    .openapi(deleteDestination.route, deleteDestination.handler(deps))
    .openapi(verifyDestination.route, verifyDestination.handler(deps))
    .openapi(updateDestination.route, updateDestination.handler(deps))
    .openapi(setDestinationHeartbeat.route, setDestinationHeartbeat.handler(deps));
  // Only an app given the local stack's port has (and documents) the local deploy; elsewhere it is 404.
  if (deps.localAws !== undefined) router.openapi(localDeploy.route, localDeploy.handler(deps));
  return router;
}
