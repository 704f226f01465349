import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';
import type { Destination } from '@vsh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FindingsV2Error } from './findings-v2.ts';
import { createDestinationRegistry, type DestinationRoute, destinationKeyOf } from './registry.ts';

// The registry against a loopback STS that issues each role session a key naming the ExternalId it
// was assumed with, so a test can see whose credential a destination's clients hold.
const assumed: string[] = [];
let endpoint = '';
const sts = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const externalId = form.get('ExternalId') ?? '';
    assumed.push(externalId);
    const body =
      '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>' +
      `<AccessKeyId>ASIA-${externalId}-${assumed.length}</AccessKeyId><SecretAccessKey>s</SecretAccessKey>` +
      `<SessionToken>t</SessionToken><Expiration>${new Date(Date.now() + 3600_000).toISOString()}</Expiration>` +
      '</Credentials><AssumedRoleUser><AssumedRoleId>AROA:x</AssumedRoleId><Arn>arn:aws:sts::111111111111:assumed-role/r/x</Arn>' +
      '</AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>';
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(body);
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => sts.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(sts.address() as AddressInfo).port}`;
});
afterAll(() => {
  sts.close();
  sts.closeAllConnections();
});

const destination = (accountId: string, region = 'us-east-1'): Destination => ({
  accountId,
  region,
  partition: 'aws',
});

const route = (
  tenantId: string,
  accountId: string,
  externalId: string,
  region?: string,
): DestinationRoute => ({
  tenantId,
  destination: destination(accountId, region),
  roleArn: `arn:aws:iam::${accountId}:role/VaikoraSecurityHubImport`,
  externalId,
});

const registryOf = (maxEntries?: number, findingsV2?: { previewEnabled: boolean }) =>
  createDestinationRegistry({
    masterCredentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
    stsClientConfig: { endpoint },
    maxEntries,
    findingsV2,
  });

describe('createDestinationRegistry', () => {
  it('keeps at most maxEntries destinations, dropping the least recently used', () => {
    const registry = registryOf(2);
    const a = registry.get(route('ten_a', '111111111111', 'ext-a'));
    const b = registry.get(route('ten_b', '222222222222', 'ext-b'));
    registry.get(route('ten_a', '111111111111', 'ext-a'));

    registry.get(route('ten_c', '333333333333', 'ext-c'));

    expect(registry.size).toBe(2);
    expect(registry.get(route('ten_a', '111111111111', 'ext-a'))).toBe(a);
    expect(registry.get(route('ten_b', '222222222222', 'ext-b'))).not.toBe(b);
    registry.destroy();
  });

  it('gives two tenants of one account and region their own clients and their own role session', async () => {
    const registry = registryOf();
    const a = registry.get(route('ten_a', '111111111111', 'ext-a'));
    const b = registry.get(route('ten_b', '111111111111', 'ext-b'));

    const [credA, credB] = await Promise.all([a.credentials(), b.credentials()]);

    expect(b.securityHub).not.toBe(a.securityHub);
    expect(credA.accessKeyId).toMatch(/^ASIA-ext-a-/);
    expect(credB.accessKeyId).toMatch(/^ASIA-ext-b-/);
    registry.destroy();
  });

  it('sends the AssumeRole of every destination in a region through one STS client, made at its first use', async () => {
    // The connector's own credential is resolved once per STS client (the SDK memoizes it per client):
    // how often it is asked for counts the STS clients.
    let masterResolved = 0;
    const registry = createDestinationRegistry({
      masterCredentials: async () => {
        masterResolved++;
        return { accessKeyId: 'AKID', secretAccessKey: 'secret' };
      },
      stsClientConfig: { endpoint },
    });
    const routes = [
      route('ten_s1', '121212121212', 'ext-s1'),
      route('ten_s2', '131313131313', 'ext-s2'),
      route('ten_s3', '141414141414', 'ext-s3'),
      route('ten_s4', '151515151515', 'ext-s4', 'eu-west-1'),
    ];

    const credentials = await Promise.all(routes.map((r) => registry.get(r).credentials()));

    expect(credentials.map((c) => c.accessKeyId.split('-')[1])).toEqual(['ext', 'ext', 'ext', 'ext']);
    expect(credentials.map((c) => c.accessKeyId.split('-')[2])).toEqual(['s1', 's2', 's3', 's4']);
    expect(masterResolved).toBe(2);
    registry.destroy();
  });

  it('assumes a role once across runs of the same destination while its credential is valid', async () => {
    const registry = registryOf();
    const before = assumed.filter((id) => id === 'ext-runs').length;

    const first = await registry.get(route('ten_r', '444444444444', 'ext-runs')).credentials();
    const second = await registry.get(route('ten_r', '444444444444', 'ext-runs')).credentials();

    expect(second).toBe(first);
    expect(assumed.filter((id) => id === 'ext-runs').length - before).toBe(1);
    registry.destroy();
  });

  it('assumes the role again for a destination it dropped or whose ExternalId changed', async () => {
    const registry = registryOf(1);
    const r = route('ten_d', '555555555555', 'ext-d');
    const first = await registry.get(r).credentials();

    registry.get(route('ten_e', '666666666666', 'ext-e'));
    const afterDrop = await registry.get(r).credentials();
    const rotated = await registry.get({ ...r, externalId: 'ext-d2' }).credentials();

    expect(afterDrop.accessKeyId).not.toBe(first.accessKeyId);
    expect(rotated.accessKeyId).toMatch(/^ASIA-ext-d2-/);
    expect(registry.evict(destinationKeyOf(r))).toBe(true);
    expect(registry.size).toBe(0);
    registry.destroy();
  });

  it("imports in partner-product mode with Data443's own credentials, assuming no role (ADR 0121)", async () => {
    const registry = registryOf();
    const before = assumed.length;
    const product = { accountId: '999988887777', name: 'data443/vaikora' };
    const partner = (tenantId: string, accountId: string): DestinationRoute => ({
      ...route(tenantId, accountId, `ext-${tenantId}`),
      destination: { ...destination(accountId), product },
    });

    const a = registry.get(partner('ten_pa', '111111111111'));
    const b = registry.get(partner('ten_pb', '222222222222'));
    const own = registry.get(route('ten_pa', '111111111111', 'ext-ten_pa'));
    const [credA, credB] = await Promise.all([a.credentials(), b.credentials()]);

    expect(credA.accessKeyId).toBe('AKID');
    expect(credB.accessKeyId).toBe('AKID');
    expect(assumed.length).toBe(before);
    // Leaving partner mode replaces the clients: the role's credentials again.
    expect(own).not.toBe(a);
    expect((await own.credentials()).accessKeyId).toMatch(/^ASIA-ext-ten_pa-/);
    registry.destroy();
  });

  it("gives a destination one S3 client, in the stream's region, with the same role session as its Security Hub client", async () => {
    const registry = registryOf();
    const lake = {
      ...route('ten_l', '777777777777', 'ext-lake', 'eu-west-1'),
      securityLake: { bucket: 'aws-security-data-lake-eu-west-1-abc', sourceName: 'vaikora' },
    };
    const clients = registry.get(lake);

    const s3 = clients.s3;
    const [fromS3, fromHub] = await Promise.all([
      s3.config.credentials(),
      clients.securityHub.config.credentials(),
    ]);

    expect(s3).toBeInstanceOf(S3Client);
    expect(clients.s3).toBe(s3);
    expect(await s3.config.region()).toBe('eu-west-1');
    expect(fromS3.accessKeyId).toMatch(/^ASIA-ext-lake-/);
    expect(fromS3).toBe(fromHub);
    registry.destroy();
  });

  it('replaces the clients when the Security Lake bucket or source changes, and keeps them otherwise', () => {
    const registry = registryOf();
    const base = route('ten_s', '888888888888', 'ext-s');
    const lake = { ...base, securityLake: { bucket: 'lake-bucket-one', sourceName: 'vaikora' } };
    const first = registry.get(lake);

    const same = registry.get({ ...lake, securityLake: { ...lake.securityLake } });
    const otherBucket = registry.get({
      ...lake,
      securityLake: { ...lake.securityLake, bucket: 'lake-bucket-two' },
    });
    const otherSource = registry.get({
      ...lake,
      securityLake: { bucket: 'lake-bucket-two', sourceName: 'other' },
    });
    const hub = registry.get(base);

    expect(same).toBe(first);
    expect(otherBucket).not.toBe(first);
    expect(otherSource).not.toBe(otherBucket);
    expect(hub).not.toBe(otherSource);
    expect(registry.size).toBe(1);
    registry.destroy();
  });

  it('gives no BatchImportFindingsV2 sender unless the preview flag is on, and one per destination when it is', () => {
    const off = registryOf();
    const on = registryOf(undefined, { previewEnabled: true });
    const r = route('ten_v', '999999999999', 'ext-v');

    const refused = (() => {
      try {
        return off.get(r).findingsV2();
      } catch (err) {
        return err;
      }
    })();
    const sender = on.get(r).findingsV2();

    expect(refused).toBeInstanceOf(FindingsV2Error);
    expect(refused).toMatchObject({ code: 'PREVIEW_DISABLED' });
    expect(on.get(r).findingsV2()).toBe(sender);
    off.destroy();
    on.destroy();
  });
});
