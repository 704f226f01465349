import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { type Destination, type OcsfDetectionFinding, parseAction, toOcsfDetectionFinding } from '@vsh/core';
import { generateActions } from '@vsh/fixtures';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  createFindingsV2Sender,
  FINDINGS_V2_IMPORT_PATH,
  FindingsV2Error,
  type FindingsV2SenderOptions,
} from './findings-v2.ts';

const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIDFINDINGSV2TEST', secretAccessKey: 'v2-test-secret-never-logged' };
const destination: Destination = { accountId: '123456789012', region: REGION, partition: 'aws' };

function findings(count: number, seed = 1): OcsfDetectionFinding[] {
  return generateActions({ seed, count, idPrefix: `v2-${seed}` }).flatMap((raw) => {
    const parsed = parseAction(raw);
    return parsed.ok
      ? [toOcsfDetectionFinding(parsed.action, { destination, now: '2026-12-04T00:00:00.000Z' })]
      : [];
  });
}

interface Received {
  readonly method: string;
  readonly path: string;
  readonly signatureValid: boolean;
  readonly findings: OcsfDetectionFinding[];
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

/** Recomputes the request's SigV4 signature with the same signer and credentials, at the request's own date. */
async function signatureMatches(req: IncomingMessage, body: string): Promise<boolean> {
  const authorization = req.headers.authorization ?? '';
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
  const amzDate = req.headers['x-amz-date'];
  if (typeof amzDate !== 'string' || signedHeaders.length === 0) return false;
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const [hostname = '', port] = (req.headers.host ?? '').split(':');
  const signer = new SignatureV4({
    service: 'securityhub',
    region: REGION,
    credentials: CREDENTIALS,
    sha256: Sha256,
  });
  const signingDate = new Date(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
  );
  const expected = await signer.sign(
    new HttpRequest({
      method: req.method ?? '',
      protocol: 'http:',
      hostname,
      ...(port === undefined ? {} : { port: Number(port) }),
      path: req.url ?? '',
      headers,
      body,
    }),
    { signingDate },
  );
  return expected.headers.authorization === authorization;
}

/** A local Security Hub stand-in: checks every request's signature, records it, answers with `reply`. */
async function startHub(reply: (received: Received, index: number) => Reply) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      void signatureMatches(req, body).then((signatureValid) => {
        const parsed = JSON.parse(body || '{}') as { Findings?: OcsfDetectionFinding[] };
        const entry: Received = {
          method: req.method ?? '',
          path: req.url ?? '',
          signatureValid,
          findings: parsed.Findings ?? [],
        };
        received.push(entry);
        const answer: Reply = signatureValid
          ? reply(entry, received.length - 1)
          : {
              status: 403,
              headers: { 'x-amzn-errortype': 'InvalidSignatureException' },
              body: { message: 'bad signature' },
            };
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, received };
}

function senderFor(endpoint: string, options: Partial<FindingsV2SenderOptions> = {}) {
  const sleeps: number[] = [];
  const sender = createFindingsV2Sender({
    previewEnabled: true,
    region: REGION,
    credentials: CREDENTIALS,
    endpoint,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...options,
  });
  onTestFinished(() => sender.destroy());
  return { sender, sleeps };
}

const ok = (): Reply => ({ status: 200, body: { ProcessedFindings: [], UnprocessedFindings: [] } });

describe('BatchImportFindingsV2 sender against a local signature-checking server', () => {
  it('sends 250 findings as 3 SigV4-signed POSTs to /findingsv2/import of at most 100', async () => {
    const hub = await startHub(ok);
    const { sender } = senderFor(hub.endpoint);
    const input = findings(250);

    const result = await sender.send(input);

    expect(hub.received.map((r) => r.findings.length)).toEqual([100, 100, 50]);
    for (const r of hub.received) {
      expect(r.signatureValid).toBe(true);
      expect([r.method, r.path]).toEqual(['POST', FINDINGS_V2_IMPORT_PATH]);
    }
    expect(hub.received.flatMap((r) => r.findings)).toEqual(input);
    expect(result.imported).toEqual(input.map((f) => f.finding_info.uid));
    expect(result.failed).toEqual([]);
    expect(result.stats).toEqual({ requests: 3, retries: 0 });
  });

  it('maps UnprocessedFindings to per-finding failures, retryable only where a resend can help', async () => {
    const input = findings(10, 2);
    const [bad, busy] = input.map((f) => f.finding_info.uid);
    const hub = await startHub(() => ({
      status: 200,
      body: {
        UnprocessedFindings: [
          {
            FindingIdentifier: { FindingInfoUid: bad },
            ErrorCode: 'ValidationException',
            ErrorMessage: 'severity_id',
          },
          {
            FindingIdentifier: { FindingInfoUid: busy },
            ErrorCode: 'InternalServerException',
            ErrorMessage: 'later',
          },
        ],
      },
    }));
    const { sender } = senderFor(hub.endpoint);

    const result = await sender.send(input);

    expect(result.failed).toEqual([
      { findingId: bad, errorCode: 'ValidationException', message: 'severity_id', retryable: false },
      { findingId: busy, errorCode: 'InternalServerException', message: 'later', retryable: true },
    ]);
    expect(result.imported).toEqual(input.slice(2).map((f) => f.finding_info.uid));
  });

  it('retries 429 and 5xx with bounded, growing backoff, then succeeds', async () => {
    const hub = await startHub((_r, i) =>
      i === 0
        ? { status: 429, headers: { 'x-amzn-errortype': 'ThrottlingException' }, body: {} }
        : i === 1
          ? { status: 503, body: { __type: 'ServiceUnavailableException' } }
          : ok(),
    );
    const { sender, sleeps } = senderFor(hub.endpoint, {
      backoffBaseMs: 100,
      backoffMaxMs: 150,
      random: () => 1,
    });

    const result = await sender.send(findings(5, 3));

    expect(result.stats).toEqual({ requests: 3, retries: 2 });
    expect(result.imported).toHaveLength(5);
    expect(sleeps).toEqual([100, 150]);
  });

  it('gives up after maxAttempts on constant throttling: every finding failed, retryable, THROTTLED', async () => {
    const hub = await startHub(() => ({
      status: 429,
      headers: { 'x-amzn-errortype': 'ThrottlingException' },
    }));
    const { sender, sleeps } = senderFor(hub.endpoint, { maxAttempts: 3, backoffMaxMs: 1_000 });

    const result = await sender.send(findings(4, 4));

    expect(hub.received).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    for (const ms of sleeps) expect(ms).toBeLessThanOrEqual(1_000);
    expect(result.imported).toEqual([]);
    expect(result.failed.map((f) => [f.errorCode, f.retryable])).toEqual(Array(4).fill(['THROTTLED', true]));
  });

  it.each([
    [403, 'AccessDeniedException', 'ACCESS_DENIED'],
    [404, 'ResourceNotFoundException', 'NOT_FOUND'],
    [400, 'ValidationException', 'INVALID_INPUT'],
  ] as const)('surfaces HTTP %i %s as %s at once, without retrying', async (status, type, code) => {
    const hub = await startHub(() => ({
      status,
      body: { __type: `com.amazonaws.securityhub#${type}`, message: 'no' },
    }));
    const { sender } = senderFor(hub.endpoint);

    const error = await sender.send(findings(3, 5)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(FindingsV2Error);
    expect(error).toMatchObject({ code, status, awsCode: type, retryable: false });
    expect(hub.received).toHaveLength(1);
  });

  it('is refused by the server when signed with other credentials (the check can fail), and never shows the secret', async () => {
    const hub = await startHub(ok);
    const { sender } = senderFor(hub.endpoint, {
      credentials: { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: 'another-secret-key' },
    });

    const error = await sender.send(findings(1, 6)).catch((e: unknown) => e);

    expect(hub.received.map((r) => r.signatureValid)).toEqual([false]);
    expect(error).toMatchObject({ code: 'ACCESS_DENIED', awsCode: 'InvalidSignatureException' });
    expect(JSON.stringify(error) + String(error)).not.toContain('another-secret-key');
  });

  it('retries a network failure as TRANSIENT', async () => {
    const { sender } = senderFor('http://127.0.0.1:1', { maxAttempts: 2 });

    const result = await sender.send(findings(2, 7));

    expect(result.stats).toEqual({ requests: 2, retries: 1 });
    expect(result.failed.map((f) => [f.errorCode, f.retryable])).toEqual(Array(2).fill(['TRANSIENT', true]));
  });

  it('does not exist without the preview flag', () => {
    expect(() =>
      createFindingsV2Sender({ previewEnabled: false, region: REGION, credentials: CREDENTIALS }),
    ).toThrow(expect.objectContaining({ code: 'PREVIEW_DISABLED' }));
  });
});
