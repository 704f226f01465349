import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { accountIdSchema, errorMessage } from '@vsh/core';
import { z } from 'zod';
import { deployCustomerRole } from './customer.ts';
import { LocalStackError, UsageError } from './errors.ts';
import type { LocalIo } from './io.ts';
import { lockHolder } from './lock.ts';
import { LOCAL_DATA443_ACCOUNT_ID } from './stack.ts';
import { readLocalState } from './state.ts';

export const DEPLOY_ROLE_USAGE = `Usage: pnpm local deploy-role --tenant <id> --destination <id> [--data-dir <dir>]

Only for the local stack (\`pnpm start\`): does the customer's AWS step for a destination. Reads the
running stack from its data folder, fetches the destination's onboarding parameters from the API and
deploys the role template into the local AWS (moto), with Security Hub turned on, then prints the
Role ARN to verify with.

Options:
  --tenant <id>        the tenant (ten_…)
  --destination <id>   its AWS destination (dst_…)
  --data-dir <dir>     the local stack's data folder (default .data)
`;

const idSchema = (prefix: string) =>
  z.string().regex(new RegExp(`^${prefix}_[0-9a-z]{6,64}$`), `must look like ${prefix}_…`);

const destinationAnswer = z.object({
  destination: z.object({ accountId: accountIdSchema, regions: z.array(z.string()).min(1) }),
  onboarding: z.object({ stackName: z.string().min(1), parameters: z.record(z.string(), z.string()) }),
});

/** `pnpm local deploy-role`: the customer's role deployment, done in the local stack's AWS. */
export async function deployRoleCommand(args: string[], io: LocalIo): Promise<number> {
  let values: { tenant?: string; destination?: string; 'data-dir'?: string };
  try {
    values = parseArgs({
      args,
      strict: true,
      options: {
        tenant: { type: 'string' },
        destination: { type: 'string' },
        'data-dir': { type: 'string' },
      },
    }).values;
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const tenant = idSchema('ten').safeParse(values.tenant);
  if (!tenant.success) throw new UsageError(`--tenant ${tenant.error.issues[0]?.message ?? 'is required'}`);
  const destination = idSchema('dst').safeParse(values.destination);
  if (!destination.success)
    throw new UsageError(`--destination ${destination.error.issues[0]?.message ?? 'is required'}`);
  const dataDir = resolve(values['data-dir'] ?? '.data');
  try {
    const out = await deployRole(dataDir, tenant.data, destination.data, io);
    io.stdout.write(
      [
        `Role deployed in the local AWS account ${out.accountId} (${out.region}); Security Hub is on.`,
        `  Role ARN   ${out.roleArn}`,
        '',
        'Next step: verify the destination with that ARN, on its onboarding page or with',
        `  curl -X POST -H "authorization: Bearer <tenant or operator key>" -H "content-type: application/json" \\`,
        `    -d '{"roleArn":"${out.roleArn}"}' ${out.apiUrl}/v1/tenants/${tenant.data}/destinations/${destination.data}/verify`,
        '',
      ].join('\n'),
    );
    return 0;
  } catch (err) {
    if (!(err instanceof LocalStackError)) throw err;
    io.stderr.write(`deploy-role: ${err.message}\n`);
    return 1;
  }
}

async function deployRole(
  dataDir: string,
  tenantId: string,
  destinationId: string,
  io: LocalIo,
): Promise<{ roleArn: string; accountId: string; region: string; apiUrl: string }> {
  const state = readLocalState(dataDir);
  if (state === undefined)
    throw new LocalStackError(
      'not_local',
      `no local stack in ${dataDir} (no local-state.json). This command works only against the local stack: start it with \`pnpm start\`, or pass its --data-dir <dir>.`,
    );
  const motoPort = state.ports?.moto;
  if (lockHolder(dataDir) === undefined || state.apiUrl === undefined || motoPort === undefined)
    throw new LocalStackError(
      'not_local',
      `the local stack in ${dataDir} is not running; start it with \`pnpm start --data-dir ${dataDir}\` first.`,
    );
  const fetcher = io.fetch ?? fetch;
  const path = `/v1/tenants/${tenantId}/destinations/${destinationId}`;
  let res: Response;
  try {
    res = await fetcher(`${state.apiUrl}${path}`, {
      headers: { authorization: `Bearer ${state.operatorKey}` },
    });
  } catch (err) {
    throw new LocalStackError(
      'api_failed',
      `the local API at ${state.apiUrl} does not answer; is the stack running?`,
      {
        cause: err,
      },
    );
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (res.status === 404)
    throw new LocalStackError('api_failed', `tenant ${tenantId} has no destination ${destinationId}`);
  if (!res.ok) throw new LocalStackError('api_failed', `GET ${path} answered ${res.status}`);
  const got = destinationAnswer.safeParse(body);
  if (!got.success) throw new LocalStackError('api_failed', `GET ${path} answered an unexpected body`);
  const { accountId, regions } = got.data.destination;
  const region = regions[0] ?? 'us-east-1';
  const roleArn = await deployCustomerRole({
    motoEndpoint: `http://127.0.0.1:${motoPort}`,
    accountId,
    region,
    data443AccountId: LOCAL_DATA443_ACCOUNT_ID,
    stackName: got.data.onboarding.stackName,
    parameters: got.data.onboarding.parameters,
  });
  return { roleArn, accountId, region, apiUrl: state.apiUrl };
}
