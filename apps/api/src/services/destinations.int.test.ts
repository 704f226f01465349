import { type AwsDestination, auditLog, awsDestinations, type Tenant } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { LocalAwsPort } from '../deps.ts';
import { OPERATOR, refusalOf, useServiceTestbed } from '../testing/service-deps.ts';
import {
  deleteDestination,
  deployRoleLocally,
  findDestination,
  registerDestination,
  updateDestinationRouting,
  verifyDestinationRole,
} from './destinations.ts';
import { offboardTenant } from './tenants.ts';

const bed = useServiceTestbed();

const roleOf = (accountId: string) => `arn:aws:iam::${accountId}:role/Data443-VaikoraSecurityHub`;

async function registered(
  tenant: Tenant,
  accountId: string,
  regions = ['us-east-1'],
): Promise<AwsDestination> {
  return registerDestination(bed.deps, OPERATOR, tenant, { accountId, regions });
}

describe('registering a destination', () => {
  it('stores the account with a fresh ExternalId and audits it', async () => {
    const tenant = await bed.tenant();

    const row = await registered(tenant, '210987654321', ['us-east-1', 'eu-west-1']);

    expect(row).toMatchObject({ tenantId: tenant.id, state: 'pending', agentIds: null });
    expect(row.externalId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const audit = await bed.deps.db.select().from(auditLog).where(eq(auditLog.target, row.id));
    expect(audit.map((entry) => entry.action)).toEqual(['destination.created']);
  });

  it('refuses regions of two partitions, a partition other than the regions’ and a foreign role name', async () => {
    const tenant = await bed.tenant();
    const input = { accountId: '210987654321' };

    const mixed = registerDestination(bed.deps, OPERATOR, tenant, {
      ...input,
      regions: ['us-east-1', 'cn-north-1'],
    });
    const otherPartition = registerDestination(bed.deps, OPERATOR, tenant, {
      ...input,
      regions: ['us-east-1'],
      partition: 'aws-cn',
    });
    const roleName = registerDestination(bed.deps, OPERATOR, tenant, {
      ...input,
      regions: ['us-east-1'],
      roleName: 'AdminRole',
    });

    expect((await refusalOf(mixed)).code).toBe('partition_mismatch');
    expect((await refusalOf(otherPartition)).message).toBe(
      'body.partition: the regions are in partition aws',
    );
    expect((await refusalOf(roleName)).code).toBe('role_name_not_allowed');
  });

  it('refuses a second destination for the same account as a conflict', async () => {
    const tenant = await bed.tenant();
    await registered(tenant, '111111111111');

    const again = await refusalOf(registered(tenant, '111111111111'));

    expect(again).toEqual({
      code: 'conflict',
      message: 'a destination for account 111111111111 already exists; delete it first',
    });
  });

  it('refuses every change for an offboarded tenant', async () => {
    const tenant = await offboardTenant(bed.deps, OPERATOR, await bed.tenant());

    expect((await refusalOf(registered(tenant, '222222222222'))).code).toBe('tenant_offboarded');
  });
});

describe('finding and removing a destination', () => {
  it('answers not_found for another tenant’s destination, exactly as for a missing one', async () => {
    const owner = await bed.tenant('owner');
    const other = await bed.tenant('other');
    const row = await registered(owner, '333333333333');

    expect((await refusalOf(findDestination(bed.deps.db, other.id, row.id))).code).toBe('not_found');
    expect((await refusalOf(deleteDestination(bed.deps, OPERATOR, other, row.id))).code).toBe('not_found');
    await deleteDestination(bed.deps, OPERATOR, owner, row.id);
    expect((await refusalOf(findDestination(bed.deps.db, owner.id, row.id))).code).toBe('not_found');
  });
});

describe('routing and verification', () => {
  it('sends a verified destination back to pending when a region is added', async () => {
    const tenant = await bed.tenant();
    const row = await registered(tenant, '444444444444');
    await verifyDestinationRole(bed.deps, OPERATOR, tenant, row.id, roleOf('444444444444'));

    const updated = await updateDestinationRouting(bed.deps, OPERATOR, tenant, row.id, {
      regions: ['us-east-1', 'eu-west-1'],
    });

    expect(updated.state).toBe('pending');
  });

  it('keeps the state when only the agents change, and refuses a region of another partition', async () => {
    const tenant = await bed.tenant();
    const row = await registered(tenant, '555555555555');
    await verifyDestinationRole(bed.deps, OPERATOR, tenant, row.id, roleOf('555555555555'));

    const routed = await updateDestinationRouting(bed.deps, OPERATOR, tenant, row.id, {
      agentIds: ['agt-a'],
    });
    const crossPartition = updateDestinationRouting(bed.deps, OPERATOR, tenant, row.id, {
      regions: ['us-gov-west-1'],
    });

    expect(routed).toMatchObject({ state: 'verified', agentIds: ['agt-a'] });
    expect((await refusalOf(crossPartition)).code).toBe('partition_mismatch');
  });

  it('refuses a role in another account, another partition or with a foreign name before calling AWS', async () => {
    const tenant = await bed.tenant();
    const row = await registered(tenant, '666666666666');
    const verify = (arn: string) => verifyDestinationRole(bed.deps, OPERATOR, tenant, row.id, arn);

    expect((await refusalOf(verify(roleOf('777777777777')))).code).toBe('account_mismatch');
    expect(
      (await refusalOf(verify('arn:aws-cn:iam::666666666666:role/Data443-VaikoraSecurityHub'))).code,
    ).toBe('partition_mismatch');
    expect((await refusalOf(verify('arn:aws:iam::666666666666:role/Admin'))).code).toBe(
      'role_name_not_allowed',
    );
    expect((await refusalOf(verify('not an arn'))).code).toBe('invalid_input');
    const [stored] = await bed.deps.db.select().from(awsDestinations).where(eq(awsDestinations.id, row.id));
    expect(stored?.lastVerification).toBeNull();
  });
});

describe('deploying the role into the local stack', () => {
  it('is not available without the local stack’s port', async () => {
    const tenant = await bed.tenant();
    const row = await registered(tenant, '888888888888');

    const refused = await refusalOf(deployRoleLocally(bed.deps, OPERATOR, tenant, row.id));

    expect(refused.code).toBe('not_available');
  });

  it('deploys with the onboarding parameters and reports a failing port without its text', async () => {
    const calls: Parameters<LocalAwsPort['deployRole']>[0][] = [];
    const working: LocalAwsPort = {
      async deployRole(input) {
        calls.push(input);
        return { roleArn: roleOf(input.accountId) };
      },
    };
    const failing: LocalAwsPort = {
      async deployRole() {
        throw new Error('moto: connection refused at 127.0.0.1:5000');
      },
    };
    const tenant = await bed.tenant();
    const row = await registered(tenant, '999999999999', ['eu-west-1']);

    const deployed = await deployRoleLocally({ ...bed.deps, localAws: working }, OPERATOR, tenant, row.id);
    const refused = await refusalOf(
      deployRoleLocally({ ...bed.deps, localAws: failing }, OPERATOR, tenant, row.id),
    );

    expect(deployed).toEqual({ roleArn: roleOf('999999999999') });
    expect(calls[0]).toMatchObject({ accountId: '999999999999', region: 'eu-west-1' });
    expect(calls[0]?.parameters.ExternalId).toBe(row.externalId);
    expect(refused).toEqual({
      code: 'local_deploy_failed',
      message: 'the local stack could not deploy the role; quote request id req_test',
    });
  });
});

describe('a registration racing an offboarding (the review of the destination limit)', () => {
  it('a registration whose request read the tenant before the offboarding committed adds no destination to the offboarded tenant', async () => {
    // The request loaded the tenant (active); the offboarding commits; then the registration's
    // transaction takes the tenant's row lock (assertRoomForDestination) and inserts.
    const seenByRequest = await bed.tenant();
    await offboardTenant(bed.deps, OPERATOR, seenByRequest);

    const late = await refusalOf(
      registerDestination(bed.deps, OPERATOR, seenByRequest, {
        accountId: '444444444444',
        regions: ['us-east-1'],
      }),
    ).catch((err: unknown) => ({ code: `resolved: ${String(err)}` }));
    const rows = await bed.deps.db
      .select({ state: awsDestinations.state })
      .from(awsDestinations)
      .where(eq(awsDestinations.tenantId, seenByRequest.id));
    expect({ code: late.code, rows }).toEqual({ code: 'tenant_offboarded', rows: [] });
  });
});
