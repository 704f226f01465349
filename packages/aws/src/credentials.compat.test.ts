import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { afterEach, describe, expect, it } from 'vitest';
import { createDestinationCredentials, createStsClients } from './credentials.ts';
import { classifyAwsError } from './errors.ts';
import { stsErrorXml, stubSts } from './sts.test-support.ts';

// ADR 0141: the per-region clients of `createStsClients` send what the SDK's `fromTemporaryCredentials`
// (one STS client per destination, the registry's former path) sent, request by request through a stub
// handler: the regional endpoint in every partition, the body, the signing, the default credential
// chain, the credential returned and the classification of STS's errors.

const EXPIRES = new Date(Date.now() + 3600_000).toISOString();
const okXml = (key: string) =>
  '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>' +
  `<AccessKeyId>${key}</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>` +
  `<Expiration>${EXPIRES}</Expiration></Credentials></AssumeRoleResult>` +
  '<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>';

const master = { accessKeyId: 'AKIDMASTER', secretAccessKey: 'secret' };
const role = {
  roleArn: 'arn:aws:iam::111122223333:role/vaikora-connector',
  externalId: 'ext-7f3a',
  sessionName: 'vsh-ten_1',
};

/** The former path (the registry before ADR 0141), with the same parameters. */
const former = (region: string, handler: unknown, masterCredentials?: typeof master) =>
  fromTemporaryCredentials({
    params: {
      RoleArn: role.roleArn,
      ExternalId: role.externalId,
      RoleSessionName: role.sessionName,
      DurationSeconds: 3600,
    },
    ...(masterCredentials === undefined ? {} : { masterCredentials }),
    clientConfig: { requestHandler: handler as never, maxAttempts: 1, region },
  });

const current = (region: string, handler: unknown, masterCredentials?: typeof master) =>
  createDestinationCredentials({
    ...role,
    sts: createStsClients({
      masterCredentials,
      clientConfig: { requestHandler: handler as never, maxAttempts: 1 },
    }).forRegion(region),
  });

/** The signing scope of an Authorization header: key id, date left out, region, service. */
const scope = (authorization: string) => {
  const m = /Credential=([^/]+)\/\d+\/([^/]+)\/([^/]+)\//.exec(authorization);
  return m === null ? null : { key: m[1], region: m[2], service: m[3] };
};

describe('createStsClients and createDestinationCredentials against fromTemporaryCredentials', () => {
  const envBefore = { ...process.env };
  afterEach(() => {
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      if (envBefore[k] === undefined) delete process.env[k];
      else process.env[k] = envBefore[k];
    }
  });

  it.each([
    ['us-east-1', 'sts.us-east-1.amazonaws.com'],
    ['eu-central-1', 'sts.eu-central-1.amazonaws.com'],
    ['cn-north-1', 'sts.cn-north-1.amazonaws.com.cn'],
    ['us-gov-west-1', 'sts.us-gov-west-1.amazonaws.com'],
  ])(
    'sends %s to the same regional endpoint, body and signing scope as before (%s)',
    async (region, host) => {
      const before = stubSts((n) => ({ status: 200, xml: okXml(`ASIA${n}`) }));
      const after = stubSts((n) => ({ status: 200, xml: okXml(`ASIA${n}`) }));

      const a = await former(region, before.handler, master)();
      const b = await current(region, after.handler, master)();

      expect(after.requests[0]?.hostname).toBe(host);
      expect(after.requests[0]?.hostname).toBe(before.requests[0]?.hostname);
      expect(after.requests[0]?.body).toBe(before.requests[0]?.body);
      expect(scope(after.requests[0]?.authorization ?? '')).toEqual(
        scope(before.requests[0]?.authorization ?? ''),
      );
      expect(scope(after.requests[0]?.authorization ?? '')).toEqual({
        key: 'AKIDMASTER',
        region,
        service: 'sts',
      });
      // The same fields, but `credentialScope` (absent from this SDK's STS model) and undefined ones.
      expect(b).toEqual(JSON.parse(JSON.stringify(a), (k, v) => (k === 'expiration' ? new Date(v) : v)));
    },
  );

  it('resolves the master credential from the default chain when none is given, as before', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDFROMENV';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    delete process.env.AWS_SESSION_TOKEN;
    const before = stubSts(() => ({ status: 200, xml: okXml('ASIA') }));
    const after = stubSts(() => ({ status: 200, xml: okXml('ASIA') }));

    await former('eu-west-1', before.handler)();
    await current('eu-west-1', after.handler)();

    expect(scope(after.requests[0]?.authorization ?? '')?.key).toBe('AKIDFROMENV');
    expect(scope(before.requests[0]?.authorization ?? '')?.key).toBe('AKIDFROMENV');
  });

  it.each([
    [403, 'AccessDenied'],
    [403, 'RegionDisabledException'],
    [403, 'InvalidClientTokenId'],
    [400, 'Throttling'],
    [500, 'InternalFailure'],
    [400, 'ValidationError'],
    [400, 'ExpiredToken'],
  ])('classifies STS %i %s as before', async (status, code) => {
    const before = stubSts(() => ({ status, xml: stsErrorXml(code) }));
    const after = stubSts(() => ({ status, xml: stsErrorXml(code) }));

    const a = classifyAwsError(await former('us-east-1', before.handler, master)().catch((e: unknown) => e));
    const b = await current('us-east-1', after.handler, master)().catch((e: unknown) => e);

    expect(b).toMatchObject({ code: a.code, retryable: a.retryable, awsCode: a.awsCode });
  });

  it('shares one retry quota per region (documented in ADR 0141): failing calls of some destinations leave another none', async () => {
    // Every AssumeRole in us-east-1 fails with a 500: the SDK retries (standard mode, 3 attempts) while
    // the client's retry quota (500, 5 a retry) lasts. The destinations of eu-west-1 keep their own.
    const failing = stubSts(() => ({ status: 500, xml: stsErrorXml('InternalFailure') }));
    const clients = createStsClients({
      masterCredentials: master,
      clientConfig: { requestHandler: failing.handler as never, maxAttempts: 3, retryMode: 'standard' },
    });
    const provider = (i: number, region: string) =>
      createDestinationCredentials({
        ...role,
        externalId: `ext-${i}`,
        sts: clients.forRegion(region),
        refreshRetryAfterMs: 0,
      });

    await Promise.all(
      Array.from({ length: 60 }, (_, i) => provider(i, 'us-east-1')().catch(() => undefined)),
    );
    const drained = failing.requests.length;
    await provider(1000, 'us-east-1')().catch(() => undefined);
    const lastInRegion = failing.requests.length - drained;
    await provider(1001, 'eu-west-1')().catch(() => undefined);
    const otherRegion = failing.requests.length - drained - lastInRegion;

    // 60 destinations with 3 attempts each would be 180 requests; the quota stopped the retries.
    expect(drained).toBeLessThan(180);
    expect(lastInRegion).toBe(1);
    expect(otherRegion).toBe(3);
    clients.destroy();
  }, 30_000);
});
