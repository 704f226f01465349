import type { AwsCredentialIdentity } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import {
  createDestinationCredentials,
  createStsClients,
  memoizeCredentials,
  sanitizeStsName,
} from './credentials.ts';
import { AwsError } from './errors.ts';
import { stsErrorXml, stubSts } from './sts.test-support.ts';

const MINUTE = 60_000;

function fakeSts(results: Array<AwsCredentialIdentity | Error>) {
  let calls = 0;
  const provider = async (): Promise<AwsCredentialIdentity> => {
    const result = results[Math.min(calls, results.length - 1)];
    calls++;
    await Promise.resolve();
    if (result === undefined || result instanceof Error) throw result ?? new Error('no result');
    return result;
  };
  return { provider, calls: () => calls };
}

const credential = (id: string, expiresAtMs: number): AwsCredentialIdentity => ({
  accessKeyId: id,
  secretAccessKey: 'secret',
  sessionToken: 'token',
  expiration: new Date(expiresAtMs),
});

const throttled = () =>
  Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } });

describe('memoizeCredentials', () => {
  it('shares one fetch among concurrent callers and caches the result', async () => {
    const sts = fakeSts([credential('A', 60 * MINUTE)]);
    const provider = memoizeCredentials(sts.provider, { clock: () => 0 });

    const concurrent = await Promise.all(Array.from({ length: 10 }, () => provider()));
    const later = await provider();

    expect(sts.calls()).toBe(1);
    expect(new Set([...concurrent, later].map((c) => c.accessKeyId))).toEqual(new Set(['A']));
  });

  it('refreshes before expiry, not after', async () => {
    let now = 0;
    const sts = fakeSts([credential('A', 60 * MINUTE), credential('B', 120 * MINUTE)]);
    const provider = memoizeCredentials(sts.provider, {
      clock: () => now,
      refreshBeforeExpiryMs: 5 * MINUTE,
    });
    await provider();

    now = 54 * MINUTE;
    const stillFirst = await provider();
    now = 55 * MINUTE;
    const refreshed = await provider();

    expect(stillFirst.accessKeyId).toBe('A');
    expect(refreshed.accessKeyId).toBe('B');
    expect(sts.calls()).toBe(2);
  });

  it('keeps serving a still-valid credential when a refresh is throttled, and retries later', async () => {
    let now = 0;
    const sts = fakeSts([credential('A', 60 * MINUTE), throttled(), credential('B', 120 * MINUTE)]);
    const provider = memoizeCredentials(sts.provider, {
      clock: () => now,
      refreshBeforeExpiryMs: 5 * MINUTE,
      refreshRetryAfterMs: 10_000,
    });
    await provider();

    now = 56 * MINUTE;
    const duringOutage = await provider();
    const withinCooldown = await provider();
    now += 10_000;
    const afterCooldown = await provider();

    expect([duringOutage, withinCooldown, afterCooldown].map((c) => c.accessKeyId)).toEqual(['A', 'A', 'B']);
    expect(sts.calls()).toBe(3);
  });

  it('throws the classified error once the held credential has expired', async () => {
    let now = 0;
    const sts = fakeSts([credential('A', 60 * MINUTE), throttled()]);
    const provider = memoizeCredentials(sts.provider, { clock: () => now });
    await provider();

    now = 61 * MINUTE;
    const failure = provider();

    await expect(failure).rejects.toMatchObject({ name: 'AwsError', code: 'THROTTLED' });
  });
});

describe('sanitizeStsName', () => {
  it.each([
    ['vsh-tenant-1', 'vsh-tenant-1'],
    ['vsh-ténant/with spaces', 'vsh-t-nant-with-spaces'],
    ['x', 'x-'],
    ['a'.repeat(100), 'a'.repeat(64)],
    ['user@example.com,=+.', 'user@example.com,=+.'],
  ])('makes %j a valid session name', (input, expected) => {
    expect(sanitizeStsName(input)).toBe(expected);
  });
});

/** STS answering every request with `status` and the error `code`, or with `answer` when given. */
const stubStsHandler = (status: number, code: string, answer?: string) =>
  stubSts(() => ({ status, xml: answer ?? stsErrorXml(code) }));

describe('createDestinationCredentials', () => {
  const base = {
    roleArn: 'arn:aws:iam::111122223333:role/vaikora-connector',
    externalId: 'ext-7f3a',
    sessionName: 'vsh-tenant 42',
  };
  const stsOf = (handler: ReturnType<typeof stubStsHandler>['handler'], region = 'eu-central-1') =>
    createStsClients({
      masterCredentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      clientConfig: { requestHandler: handler, maxAttempts: 1 },
    }).forRegion(region);

  it('assumes the role on the regional STS endpoint with the ExternalId and a sanitized session name', async () => {
    const sts = stubStsHandler(403, 'AccessDenied');
    const provider = createDestinationCredentials({ ...base, sts: stsOf(sts.handler) });

    await provider().catch(() => undefined);

    expect(sts.requests[0]?.hostname).toBe('sts.eu-central-1.amazonaws.com');
    const params = new URLSearchParams(sts.requests[0]?.body);
    expect(params.get('Action')).toBe('AssumeRole');
    expect(params.get('ExternalId')).toBe('ext-7f3a');
    expect(params.get('RoleSessionName')).toBe('vsh-tenant-42');
  });

  it.each([
    [403, 'AccessDenied', 'ROLE_UNUSABLE'],
    [403, 'RegionDisabledException', 'REGION_UNUSABLE'],
    [403, 'InvalidClientTokenId', 'REGION_UNUSABLE'],
  ])('turns STS %i %s into %s, not retryable', async (status, code, expected) => {
    const sts = stubStsHandler(status, code);
    const provider = createDestinationCredentials({ ...base, sts: stsOf(sts.handler) });

    const error = await provider().catch((err: unknown) => err);

    expect(error).toBeInstanceOf(AwsError);
    expect(error).toMatchObject({ code: expected, retryable: false, awsCode: code });
  });

  it.each([
    ['without credentials', ''],
    [
      'with an empty key id',
      '<Credentials><AccessKeyId></AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken></Credentials>',
    ],
  ])(
    'refuses an AssumeRole answer %s (UNKNOWN, not retryable), naming the role',
    async (_what, credentials) => {
      const sts = stubStsHandler(
        200,
        '',
        `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>${credentials}</AssumeRoleResult><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      );
      const provider = createDestinationCredentials({ ...base, sts: stsOf(sts.handler) });

      const error = await provider().catch((err: unknown) => err);

      expect(error).toBeInstanceOf(AwsError);
      expect(error).toMatchObject({ code: 'UNKNOWN', retryable: false });
      expect((error as Error).message).toContain(base.roleArn);
    },
  );

  it('returns the assumed credential with its expiry, and shares it until the refresh window', async () => {
    const expiration = new Date(Date.now() + 3600_000);
    const sts = stubStsHandler(
      200,
      '',
      '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>' +
        `<AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey><SessionToken>tok</SessionToken><Expiration>${expiration.toISOString()}</Expiration>` +
        '</Credentials></AssumeRoleResult><ResponseMetadata><RequestId>r-3</RequestId></ResponseMetadata></AssumeRoleResponse>',
    );
    const provider = createDestinationCredentials({ ...base, sts: stsOf(sts.handler) });

    const [first, second] = await Promise.all([provider(), provider()]);

    expect(first).toEqual({
      accessKeyId: 'ASIAEXAMPLE',
      secretAccessKey: 's3cr3t',
      sessionToken: 'tok',
      expiration,
    });
    expect(second).toBe(first);
    expect(sts.requests).toHaveLength(1);
  });
});

describe('createStsClients', () => {
  it('makes one client per region, at its first use, and keeps it', () => {
    const clients = createStsClients();

    const a = clients.forRegion('us-east-1');

    expect(clients.forRegion('us-east-1')).toBe(a);
    expect(clients.forRegion('eu-west-1')).not.toBe(a);
    clients.destroy();
  });

  it('keeps at most maxRegions clients, dropping the least recently used: made-up regions cannot grow it', () => {
    const clients = createStsClients({ maxRegions: 2 });
    const east = clients.forRegion('us-east-1');
    const west = clients.forRegion('eu-west-1');
    clients.forRegion('us-east-1');

    for (let i = 0; i < 1000; i++) clients.forRegion(`zz-madeup-${i % 100}`);
    clients.forRegion('us-east-1');

    expect(clients.forRegion('us-east-1')).not.toBe(east);
    expect(clients.forRegion('eu-west-1')).not.toBe(west);
    expect(clients.size).toBe(2);
    clients.destroy();
  });
});
