import {
  BatchImportFindingsCommand,
  type BatchImportFindingsCommandInput,
  InvalidInputException,
  SecurityHubClient,
  SecurityHubServiceException,
} from '@aws-sdk/client-securityhub';
import type { Destination, PreparedFinding } from '@vsh/core';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { AwsError } from './errors.ts';
import { createSecurityHubImporter, findingErrorDisposition } from './importer.ts';
import { createRateLimiterRegistry } from './rate-limiter.ts';
import { makeFindings } from './testing/findings.ts';

// Unit tests for the paths a real server (moto, the fault proxy) cannot be made to produce. The
// mock replaces `send`, so neither the SDK's retries nor the rate-limit middleware run here.

const destination: Destination = { accountId: '111122223333', region: 'eu-west-1', partition: 'aws' };

function setup(maxAttempts = 3) {
  const client = new SecurityHubClient({ region: destination.region });
  const mock = mockClient(client);
  const sleeps: number[] = [];
  const importer = createSecurityHubImporter({
    client,
    destination,
    rateLimiter: createRateLimiterRegistry(),
    maxAttempts,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { mock, importer, sleeps };
}

const idsOf = (input: BatchImportFindingsCommandInput): string[] =>
  (input.Findings ?? []).map((f) => f.Id ?? '');
const ok = (input: BatchImportFindingsCommandInput) => ({
  FailedCount: 0,
  SuccessCount: idsOf(input).length,
  FailedFindings: [],
});

describe('createSecurityHubImporter', () => {
  it('resends a finding with an unknown ErrorCode up to the bound, then rejects it as not retryable', async () => {
    const { mock, importer, sleeps } = setup(3);
    const findings = makeFindings({ destination, count: 5, idPrefix: 'unknown' });
    const odd = findings[2]?.finding.Id ?? '';
    mock.on(BatchImportFindingsCommand).callsFake((input: BatchImportFindingsCommandInput) => {
      const ids = idsOf(input);
      const failed = ids.includes(odd) ? [{ Id: odd, ErrorCode: 'SomethingNew', ErrorMessage: 'what' }] : [];
      return { FailedCount: failed.length, SuccessCount: ids.length - failed.length, FailedFindings: failed };
    });

    const result = await importer.importFindings(findings);

    expect(mock.commandCalls(BatchImportFindingsCommand)).toHaveLength(3);
    expect(result.imported).toHaveLength(4);
    expect(result.rejected).toEqual([
      expect.objectContaining({
        actionId: findings[2]?.action.id,
        code: 'IMPORT_REJECTED',
        stage: 'import',
        retryable: false,
        reason: 'SomethingNew: what (gave up after 3 attempts)',
      }),
    ]);
    expect(sleeps).toHaveLength(2);
  });

  it('resends the findings FailedCount counts but FailedFindings does not list', async () => {
    const { mock, importer } = setup();
    const findings = makeFindings({ destination, count: 3, idPrefix: 'unlisted' });
    mock
      .on(BatchImportFindingsCommand)
      .resolvesOnce({ FailedCount: 1, SuccessCount: 2, FailedFindings: [] })
      .callsFake(ok);

    const result = await importer.importFindings(findings);

    expect(mock.commandCalls(BatchImportFindingsCommand)).toHaveLength(2);
    expect(new Set(result.imported)).toEqual(new Set(findings.map((f) => f.finding.Id)));
    expect(result.rejected).toEqual([]);
  });

  it('splits a batch refused as a whole until the one bad finding is isolated and rejected', async () => {
    const { mock, importer } = setup();
    const findings = makeFindings({ destination, count: 40, idPrefix: 'split' });
    const bad = findings[17]?.finding.Id ?? '';
    mock.on(BatchImportFindingsCommand).callsFake((input: BatchImportFindingsCommandInput) => {
      if (idsOf(input).includes(bad)) {
        throw new InvalidInputException({ $metadata: { httpStatusCode: 400 }, message: 'bad finding' });
      }
      return ok(input);
    });

    const result = await importer.importFindings(findings);

    expect(result.imported).toHaveLength(39);
    expect(result.imported).not.toContain(bad);
    expect(result.rejected).toEqual([
      expect.objectContaining({
        actionId: findings[17]?.action.id,
        retryable: false,
        reason: 'InvalidInputException: bad finding',
      }),
    ]);
    expect(mock.commandCalls(BatchImportFindingsCommand).length).toBeLessThanOrEqual(
      1 + 2 * Math.ceil(Math.log2(40)),
    );
  });

  it('resends a call whose SDK retries ran out on throttling, and returns retryable rejections at the bound', async () => {
    const { mock, importer, sleeps } = setup(4);
    const findings = makeFindings({ destination, count: 3, idPrefix: 'throttled' });
    mock.on(BatchImportFindingsCommand).rejects(
      new SecurityHubServiceException({
        name: 'TooManyRequestsException',
        $fault: 'client',
        message: 'Too Many Requests',
        $metadata: { httpStatusCode: 429 },
      }),
    );

    const result = await importer.importFindings(findings);

    expect(mock.commandCalls(BatchImportFindingsCommand)).toHaveLength(4);
    expect(result.imported).toEqual([]);
    expect(result.rejected.map((r) => [r.retryable, r.reason])).toEqual(
      findings.map(() => [true, 'TooManyRequestsException: Too Many Requests (gave up after 4 attempts)']),
    );
    expect(sleeps).toHaveLength(3);
    expect(sleeps[2]).toBeGreaterThanOrEqual(sleeps[0] ?? 0);
  });

  it('throws an error it cannot classify instead of guessing', async () => {
    const { mock, importer } = setup();
    mock.on(BatchImportFindingsCommand).rejects(
      new SecurityHubServiceException({
        name: 'Surprise',
        $fault: 'client',
        message: 'new',
        $metadata: {},
      }),
    );

    const failure = importer.importFindings(makeFindings({ destination, count: 2, idPrefix: 'surprise' }));

    await expect(failure).rejects.toMatchObject({ name: 'AwsError', code: 'UNKNOWN' });
  });

  it('imports a finding repeated within one call once, in its last version', async () => {
    const { mock, importer } = setup();
    const [first] = makeFindings({ destination, count: 1, idPrefix: 'repeat' });
    if (first === undefined) throw new Error('no finding');
    const updated: PreparedFinding = { ...first, finding: { ...first.finding, Title: 'updated' } };
    mock.on(BatchImportFindingsCommand).callsFake(ok);

    const result = await importer.importFindings([first, updated]);

    const sent = mock.commandCalls(BatchImportFindingsCommand)[0]?.args[0].input.Findings ?? [];
    expect(sent.map((f) => f.Title)).toEqual(['updated']);
    expect(result.imported).toEqual([first.finding.Id]);
  });

  it.each(['Workflow', 'Note', 'UserDefinedFields', 'VerificationState'])(
    'refuses to send a finding that sets %s, the customer’s field, and sends nothing',
    async (field) => {
      const { mock, importer } = setup();
      const findings = makeFindings({ destination, count: 2, idPrefix: 'owned' });
      const [clean, tainted] = findings;
      if (clean === undefined || tainted === undefined) throw new Error('no findings');
      const withField = { ...tainted, finding: { ...tainted.finding, [field]: { Status: 'RESOLVED' } } };

      const failure = importer.importFindings([clean, withField]);

      await expect(failure).rejects.toBeInstanceOf(AwsError);
      await expect(failure).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(mock.commandCalls(BatchImportFindingsCommand)).toHaveLength(0);
    },
  );

  it('refuses a finding addressed to another account than the destination', async () => {
    const { mock, importer } = setup();
    const foreign = makeFindings({
      destination: { ...destination, accountId: '999999999999' },
      count: 1,
      idPrefix: 'foreign',
    });

    await expect(importer.importFindings(foreign)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(mock.commandCalls(BatchImportFindingsCommand)).toHaveLength(0);
  });
});

describe('findingErrorDisposition', () => {
  it.each([
    ['InternalFailure', 'retry'],
    ['ConcurrentUpdateError', 'retry'],
    ['ThrottlingException', 'retry'],
    ['TooManyRequestsException', 'retry'],
    ['InvalidInput', 'permanent'],
    ['FindingSizeExceeded', 'permanent'],
    ['DuplicatedFindingIdentifier', 'permanent'],
    ['SomethingNew', 'unknown'],
  ])('treats %s as %s', (code, disposition) => {
    expect(findingErrorDisposition(code)).toBe(disposition);
  });
});

describe('createSecurityHubImporter in partner-product mode (ADR 0121)', () => {
  const partner: Destination = {
    ...destination,
    product: { accountId: '444455556666', name: 'data443/vaikora' },
  };

  function partnerSetup() {
    const client = new SecurityHubClient({ region: partner.region });
    const mock = mockClient(client);
    const importer = createSecurityHubImporter({
      client,
      destination: partner,
      rateLimiter: createRateLimiterRegistry(),
      sleep: async () => undefined,
    });
    return { mock, importer };
  }

  it.each(['InvalidAccess', 'InvalidAccessException', 'AccessDenied', 'AccessDeniedException'])(
    'stops the destination with PRODUCT_NOT_ENABLED, rejecting nothing, when Security Hub refuses the findings with %s',
    async (code) => {
      const { mock, importer } = partnerSetup();
      const findings = makeFindings({ destination: partner, count: 4, idPrefix: 'partner' });
      mock.on(BatchImportFindingsCommand).callsFake((input: BatchImportFindingsCommandInput) => ({
        FailedCount: idsOf(input).length,
        SuccessCount: 0,
        FailedFindings: idsOf(input).map((Id) => ({ Id, ErrorCode: code, ErrorMessage: 'not enabled' })),
      }));

      const error = await importer.importFindings(findings).catch((err: unknown) => err);

      expect(error).toBeInstanceOf(AwsError);
      expect(error).toMatchObject({ code: 'PRODUCT_NOT_ENABLED', stopsDestination: true, retryable: false });
      expect((error as AwsError).message).toContain(
        'arn:aws:securityhub:eu-west-1:444455556666:product/data443/vaikora',
      );
      expect((error as AwsError).message).toContain('111122223333');
      expect(mock.commandCalls(BatchImportFindingsCommand)).toHaveLength(1);
    },
  );

  it("still rejects an AccessDenied finding in the account's own mode (the finding itself is wrong there)", async () => {
    const { mock, importer } = setup();
    const findings = makeFindings({ destination, count: 2, idPrefix: 'own' });
    mock.on(BatchImportFindingsCommand).callsFake((input: BatchImportFindingsCommandInput) => ({
      FailedCount: 1,
      SuccessCount: 1,
      FailedFindings: [{ Id: idsOf(input)[0], ErrorCode: 'AccessDenied', ErrorMessage: 'no' }],
    }));

    const result = await importer.importFindings(findings);

    expect(result.imported).toHaveLength(1);
    expect(result.rejected).toHaveLength(1);
  });

  it("takes its tokens from the partner account's bucket in the region, shared by every tenant it imports for", () => {
    const limiters = createRateLimiterRegistry();
    const tenantA = { ...partner, accountId: '111111111111' };
    const tenantB = { ...partner, accountId: '222222222222' };

    expect(limiters.forDestination(tenantA)).toBe(limiters.forDestination(tenantB));
    expect(limiters.forDestination(tenantA)).not.toBe(
      limiters.forDestination({ ...tenantA, region: 'us-east-1' }),
    );
    expect(limiters.forDestination(tenantA)).not.toBe(
      limiters.forDestination({ ...tenantA, product: undefined }),
    );
    expect(limiters.size).toBe(3);
  });
});
