import { z } from '@hono/zod-openapi';
import { type OrgAccount, orgAccountStates } from '@vsh/db';
import type { ApiDeps } from '../../deps.ts';
import { iso, timestamp } from '../../openapi.ts';
import {
  isLive,
  ORG_REGISTRATION_PATH,
  ORG_STACKSET_PARAMETERS,
  type OrgRegistrationView,
} from '../../services/org-registrations.ts';

import { storedCheckSchema } from '../destinations/shared.ts';

export { ORG_REGISTRATION_PATH, ORG_STACKSET_PARAMETERS };

export const orgRegistrationSchema = z
  .object({
    id: z.string().openapi({ example: 'org_01jd0000000000000000000000' }),
    name: z.string(),
    prefix: z
      .string()
      .openapi({ description: 'The start of the token, to recognise it; never the whole token.' }),
    externalIdPrefix: z.string().openapi({
      description: "Each member account's ExternalId is this prefix followed by the account id.",
    }),
    roleName: z.string(),
    regions: z.array(z.string()),
    expiresAt: timestamp,
    revokedAt: timestamp.nullable(),
    createdAt: timestamp,
    live: z.boolean().openapi({ description: 'Not revoked and not expired: accounts can still register.' }),
  })
  .openapi('OrgRegistration');

export const orgAccountSchema = z
  .object({
    accountId: z.string(),
    state: z.enum(orgAccountStates),
    reason: z.string().nullable().openapi({ description: 'Why the last verification failed.' }),
    regions: z.array(z.string()),
    roleArn: z.string(),
    destinationId: z.string().nullable(),
    checks: z
      .array(storedCheckSchema)
      .openapi({ description: 'The last verification, per check and region.' }),
    checkedAt: timestamp.nullable(),
    removedAt: timestamp.nullable(),
  })
  .openapi('OrgAccount');

/** A registration as the API shows it. */
export function toOrgRegistration(
  view: OrgRegistrationView,
  now: Date,
): z.infer<typeof orgRegistrationSchema> {
  return {
    id: view.id,
    name: view.name,
    prefix: view.prefix,
    externalIdPrefix: view.externalIdPrefix,
    roleName: view.roleName,
    regions: view.regions,
    expiresAt: iso(view.expiresAt),
    revokedAt: iso(view.revokedAt),
    createdAt: iso(view.createdAt),
    live: isLive(view, now),
  };
}

/** An organisation account as the API shows it. */
export function toOrgAccount(row: OrgAccount): z.infer<typeof orgAccountSchema> {
  return {
    accountId: row.accountId,
    state: row.state,
    reason: row.reason,
    regions: row.regions,
    roleArn: row.roleArn,
    destinationId: row.destinationId,
    checks: row.lastVerification?.checks ?? [],
    checkedAt: row.lastVerification?.checkedAt ?? null,
    removedAt: iso(row.removedAt),
  };
}

export const stackSetParametersSchema = z
  .object(
    Object.fromEntries(Object.values(ORG_STACKSET_PARAMETERS).map((name) => [name, z.string()])) as Record<
      (typeof ORG_STACKSET_PARAMETERS)[keyof typeof ORG_STACKSET_PARAMETERS],
      z.ZodString
    >,
  )
  .openapi({ description: 'The parameters of infra/customer-role/org-stackset.yaml, filled in.' });

/** The StackSet's parameter values for a registration and its token. */
export function stackSetParameters(
  deps: Pick<ApiDeps, 'config'>,
  view: OrgRegistrationView,
  token: string,
): z.infer<typeof stackSetParametersSchema> {
  return {
    [ORG_STACKSET_PARAMETERS.registrationToken]: token,
    [ORG_STACKSET_PARAMETERS.registrationUrl]: `${deps.config.publicBaseUrl ?? ''}${ORG_REGISTRATION_PATH}`,
    [ORG_STACKSET_PARAMETERS.externalIdPrefix]: view.externalIdPrefix,
    [ORG_STACKSET_PARAMETERS.securityHubRegions]: view.regions.join(','),
    [ORG_STACKSET_PARAMETERS.data443AccountId]: deps.config.data443AccountId,
    [ORG_STACKSET_PARAMETERS.workerRoleName]: deps.config.workerRoleName,
    [ORG_STACKSET_PARAMETERS.roleName]: view.roleName,
  };
}

export const REGISTRATION_EXAMPLE: z.infer<typeof orgRegistrationSchema> = {
  id: 'org_01jd0000000000000000000000',
  name: 'Acme organisation',
  prefix: 'vsho_0123456789ab',
  externalIdPrefix: 'AbCdEfGhIjKlMnOpQrStUvWxYz01234',
  roleName: 'Data443-VaikoraSecurityHub',
  regions: ['us-east-1', 'eu-west-1'],
  expiresAt: '2026-01-15T00:00:00.000Z',
  revokedAt: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  live: true,
};

export const ACCOUNT_EXAMPLE: z.infer<typeof orgAccountSchema> = {
  accountId: '210987654321',
  state: 'failed',
  reason: 'SECURITY_HUB_NOT_ENABLED (eu-west-1): Security Hub is not enabled in eu-west-1',
  regions: ['us-east-1', 'eu-west-1'],
  roleArn: 'arn:aws:iam::210987654321:role/Data443-VaikoraSecurityHub',
  destinationId: 'dst_01jd0000000000000000000000',
  checks: [
    { name: 'ASSUME_ROLE', ok: true, code: 'OK', message: 'assumed the role' },
    {
      name: 'SECURITY_HUB',
      ok: false,
      code: 'SECURITY_HUB_NOT_ENABLED',
      region: 'eu-west-1',
      message: 'Security Hub is not enabled in eu-west-1',
      fix: 'enable Security Hub in eu-west-1: aws securityhub enable-security-hub --region eu-west-1',
    },
  ],
  checkedAt: '2026-01-01T00:00:00.000Z',
  removedAt: null,
};
