import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DescribeHubCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import {
  type AwsError,
  classifyAwsError,
  createDestinationCredentials,
  createRateLimiterRegistry,
  createSecurityHubImporter,
  createStsClients,
  type StsClientOptions,
  timedRequestHandler,
} from '@vsh/aws';
import { buildDeliveryCheckFinding, prepareHealthFinding, productArn } from '@vsh/core';
import {
  type CheckResult,
  type DestinationVerifier,
  enableSecurityHubFix,
  type PartnerVerifyInput,
  type VerificationResult,
  type VerifyInput,
} from './checks.ts';

export interface AwsVerifierOptions {
  /** Credentials of the connector itself (the worker role in production); default the SDK's chain. */
  masterCredentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined;
  /** Endpoint override for STS and Security Hub (moto, the fault proxy); unset in production. */
  endpoint?: string | undefined;
  /** How long AssumeRole keeps being retried while IAM propagates a new role; default 60 s. */
  propagationTimeoutMs?: number | undefined;
  /** Pause between those retries; default 2 s. */
  retryIntervalMs?: number | undefined;
  sleep?: ((ms: number) => Promise<void>) | undefined;
  /** Monotonic milliseconds; default performance.now. */
  now?: (() => number) | undefined;
  /** A call to STS, Security Hub or S3 not answered in this long fails instead of hanging; default 10 s. */
  requestTimeoutMs?: number | undefined;
}

const SESSION_SECONDS = 900;

/**
 * The production verifier: AssumeRole with the ExternalId through `createDestinationCredentials` (the
 * worker's own code path, so a pass means the worker will get in), AssumeRole without it and with a wrong
 * one (both must be refused), then DescribeHub in every region with the assumed credentials.
 *
 * STS clients (for the AssumeRole with the ExternalId and for the negative probes) are created once per
 * region and reused (ADR 0141). Security Hub clients are created per verification and destroyed at its
 * end: they carry this destination's short-lived credentials, so there is nothing to share between
 * verifications.
 */
export function createAwsDestinationVerifier(
  options: AwsVerifierOptions = {},
): Required<DestinationVerifier> & {
  destroy(): void;
} {
  const propagationTimeoutMs = options.propagationTimeoutMs ?? 60_000;
  const retryIntervalMs = options.retryIntervalMs ?? 2_000;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const now = options.now ?? (() => performance.now());
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  // The STS clients (kept for the verifier's life) share one handler and its pool; a client made for one
  // verification has a handler of its own, closed with it (a shared one would be closed under the others).
  const stsClientConfig: StsClientOptions = {
    maxAttempts: 2,
    requestHandler: timedRequestHandler(requestTimeoutMs),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
  };
  const stsClients = createStsClients({
    masterCredentials: options.masterCredentials,
    clientConfig: stsClientConfig,
  });

  const credentialsFor = (input: VerifyInput, region: string): AwsCredentialIdentityProvider =>
    createDestinationCredentials({
      roleArn: input.roleArn,
      externalId: input.externalId,
      sessionName: `vsh-verify-${input.tenantId}`,
      sts: stsClients.forRegion(region),
      durationSeconds: SESSION_SECONDS,
    });

  /** AssumeRole with the ExternalId, retried while IAM may still be propagating the role or its trust. */
  async function assumeWithPropagation(
    input: VerifyInput,
    region: string,
  ): Promise<{ provider: AwsCredentialIdentityProvider } | { error: AwsError }> {
    const provider = credentialsFor(input, region);
    const deadline = now() + propagationTimeoutMs;
    for (;;) {
      try {
        await provider();
        return { provider };
      } catch (err) {
        const error = classifyAwsError(err);
        const retry = error.code === 'ROLE_UNUSABLE' || error.retryable;
        if (!retry || now() + retryIntervalMs > deadline) return { error };
        await sleep(retryIntervalMs);
      }
    }
  }

  /** True when STS refused the role for this ExternalId (or none); an AwsError when STS could not tell. */
  async function refused(
    input: VerifyInput,
    region: string,
    externalId: string | undefined,
  ): Promise<boolean | AwsError> {
    try {
      const answer = await stsClients.forRegion(region).send(
        new AssumeRoleCommand({
          RoleArn: input.roleArn,
          RoleSessionName: `vsh-verify-${input.tenantId}`.slice(0, 64),
          DurationSeconds: SESSION_SECONDS,
          ...(externalId === undefined ? {} : { ExternalId: externalId }),
        }),
      );
      return answer.Credentials === undefined;
    } catch (err) {
      const error = classifyAwsError(err);
      return error.code === 'ROLE_UNUSABLE' ? true : error;
    }
  }

  async function verify(input: VerifyInput): Promise<VerificationResult> {
    const [firstRegion, ...otherRegions] = input.regions;
    if (firstRegion === undefined) throw new RangeError('verify: at least one region is required');
    const checks: CheckResult[] = [];
    const skipRest = (reason: string): VerificationResult => {
      checks.push({ name: 'EXTERNAL_ID_REQUIRED', ok: false, code: 'SKIPPED', message: reason });
      for (const region of input.regions) {
        checks.push({ name: 'SECURITY_HUB', ok: false, code: 'SKIPPED', region, message: reason });
      }
      return { ok: false, checks };
    };

    // Our own credentials first (in production a session of the worker role): when they fail, the
    // customer's role was never tried and nothing on the customer's side is wrong.
    const master = options.masterCredentials;
    if (typeof master === 'function') {
      try {
        await master();
      } catch (err) {
        const error = classifyAwsError(err);
        checks.push({
          name: 'ASSUME_ROLE',
          ok: false,
          code: 'AWS_UNAVAILABLE',
          region: firstRegion,
          message: `the connector could not obtain its own AWS credentials (${error.awsCode ?? error.code}); nothing was tried on the customer's role`,
          fix: "this is on Data443's side: try again later, or contact support if it persists",
        });
        return skipRest('not checked: the connector had no AWS credentials');
      }
    }

    const assumed = await assumeWithPropagation(input, firstRegion);
    if ('error' in assumed) {
      checks.push(assumeRoleFailure(assumed.error, firstRegion, input.roleArn));
      return skipRest('not checked: the role could not be assumed');
    }
    checks.push({
      name: 'ASSUME_ROLE',
      ok: true,
      code: 'OK',
      region: firstRegion,
      message: `assumed ${input.roleArn} with this destination's ExternalId`,
    });

    const withoutId = await refused(input, firstRegion, undefined);
    const wrongId =
      withoutId === true ? await refused(input, firstRegion, randomBytes(32).toString('base64url')) : true;
    if (withoutId === true && wrongId === true) {
      checks.push({
        name: 'EXTERNAL_ID_REQUIRED',
        ok: true,
        code: 'OK',
        message: 'the role refuses AssumeRole without this ExternalId',
      });
    } else if (withoutId === false || wrongId === false) {
      checks.push({
        name: 'EXTERNAL_ID_REQUIRED',
        ok: false,
        code: 'EXTERNAL_ID_NOT_ENFORCED',
        message:
          withoutId === false
            ? 'the role can be assumed without any ExternalId, so another Data443 customer could be handed it'
            : "the role can be assumed with an ExternalId other than this destination's",
        fix: "use the trust policy shown for this destination: its condition StringEquals sts:ExternalId must name this destination's ExternalId; then verify again",
      });
    } else {
      const error = withoutId instanceof Error ? withoutId : (wrongId as AwsError);
      checks.push(unavailable('EXTERNAL_ID_REQUIRED', error, firstRegion));
    }

    if (input.securityLake !== undefined) {
      checks.push(await reachLake(assumed.provider, firstRegion, input.securityLake));
      return { ok: checks.every((check) => check.ok), checks };
    }
    const clients: SecurityHubClient[] = [];
    try {
      for (const region of [firstRegion, ...otherRegions]) {
        let provider = assumed.provider;
        if (region !== firstRegion) {
          const regional = await assumeWithPropagation(input, region);
          if ('error' in regional) {
            const failure = assumeRoleFailure(regional.error, region, input.roleArn);
            checks.push({ ...failure, name: 'SECURITY_HUB' });
            continue;
          }
          provider = regional.provider;
        }
        const client = new SecurityHubClient({
          region,
          credentials: provider,
          maxAttempts: 2,
          requestHandler: timedRequestHandler(requestTimeoutMs),
          ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
        });
        clients.push(client);
        checks.push(await describeHub(client, region));
      }
    } finally {
      for (const client of clients) client.destroy();
    }
    return { ok: checks.every((check) => check.ok), checks };
  }

  /**
   * Security Lake delivery (ADR 0122): lists at most one key under the custom source's prefix with the
   * assumed role. Nothing is written: a stray object there would reach the lake's tables; the first run's
   * PutObject proves the write, and a refusal stops the destination with the reason.
   */
  async function reachLake(
    provider: AwsCredentialIdentityProvider,
    region: string,
    lake: { bucket: string; sourceName: string },
  ): Promise<CheckResult> {
    const client = new S3Client({
      region,
      credentials: provider,
      maxAttempts: 2,
      requestHandler: timedRequestHandler(requestTimeoutMs),
      forcePathStyle: options.endpoint !== undefined,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    });
    const where = `s3://${lake.bucket}/ext/${lake.sourceName}/`;
    try {
      await client.send(
        new ListObjectsV2Command({ Bucket: lake.bucket, Prefix: `ext/${lake.sourceName}/`, MaxKeys: 1 }),
      );
      return { name: 'SECURITY_LAKE', ok: true, code: 'OK', region, message: `the role reaches ${where}` };
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      if (name === 'NoSuchBucket') {
        return {
          name: 'SECURITY_LAKE',
          ok: false,
          code: 'SECURITY_LAKE_BUCKET_MISSING',
          region,
          message: `the bucket ${lake.bucket} does not exist in ${region}`,
          fix: `enable Security Lake in ${region} and copy its bucket name (aws-security-data-lake-${region}-...) from the Security Lake console's Regions page`,
        };
      }
      const error = classifyAwsError(err);
      if (name === 'AccessDenied' || error.code === 'ACCESS_DENIED' || error.code === 'ROLE_UNUSABLE') {
        return {
          name: 'SECURITY_LAKE',
          ok: false,
          code: 'SECURITY_LAKE_ACCESS_DENIED',
          region,
          message: `the role may not list ${where}`,
          fix: `allow the role s3:ListBucket on ${lake.bucket} with the prefix ext/${lake.sourceName}/ and s3:PutObject on arn:aws:s3:::${lake.bucket}/ext/${lake.sourceName}/*; then verify again`,
        };
      }
      return unavailable('SECURITY_LAKE', error, region);
    } finally {
      client.destroy();
    }
  }

  /**
   * Partner-product mode (ADR 0121): the delivery check finding into each region's hub, through the
   * worker's own importer with Data443's credentials (so a pass means the worker's imports go in).
   */
  async function verifyPartner(input: PartnerVerifyInput): Promise<VerificationResult> {
    const checks: CheckResult[] = [];
    const limiters = createRateLimiterRegistry();
    for (const region of input.regions) {
      const destination = {
        accountId: input.accountId,
        region,
        partition: input.partition,
        product: input.product,
      };
      const prepared = prepareHealthFinding(
        buildDeliveryCheckFinding({
          tenantId: input.tenantId,
          destinationId: input.destinationId,
          destination,
          now: new Date().toISOString(),
        }),
      );
      if (!prepared.ok) throw new Error(`delivery check finding is invalid: ${prepared.rejection.reason}`);
      const client = new SecurityHubClient({
        region,
        maxAttempts: 2,
        requestHandler: timedRequestHandler(requestTimeoutMs),
        ...(options.masterCredentials === undefined ? {} : { credentials: options.masterCredentials }),
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      });
      try {
        const importer = createSecurityHubImporter({
          client,
          destination,
          rateLimiter: limiters,
          maxAttempts: 2,
        });
        const result = await importer.importFindings([prepared.value]);
        const rejected = result.rejected[0];
        checks.push(
          rejected === undefined
            ? {
                name: 'PARTNER_PRODUCT',
                ok: true,
                code: 'OK',
                region,
                message: `Security Hub in ${region} accepts findings from ${productArn(destination)}`,
              }
            : {
                name: 'PARTNER_PRODUCT',
                ok: false,
                code: 'AWS_UNAVAILABLE',
                region,
                message: `Security Hub in ${region} did not take the delivery check: ${rejected.reason}`,
                fix: 'verify again in a few minutes',
              },
        );
      } catch (err) {
        checks.push(partnerFailure(classifyAwsError(err), region, productArn(destination)));
      } finally {
        client.destroy();
      }
    }
    return { ok: checks.every((check) => check.ok), checks };
  }

  return {
    verify,
    verifyPartner,
    destroy() {
      stsClients.destroy();
    },
  };
}

async function describeHub(client: SecurityHubClient, region: string): Promise<CheckResult> {
  try {
    await client.send(new DescribeHubCommand({}));
    return {
      name: 'SECURITY_HUB',
      ok: true,
      code: 'OK',
      region,
      message: `Security Hub is enabled in ${region}`,
    };
  } catch (err) {
    const error = classifyAwsError(err);
    switch (error.code) {
      case 'SECURITY_HUB_NOT_ENABLED':
        return {
          name: 'SECURITY_HUB',
          ok: false,
          code: 'SECURITY_HUB_NOT_ENABLED',
          region,
          message: `Security Hub is not enabled in ${region}`,
          fix: enableSecurityHubFix(region),
        };
      case 'ACCESS_DENIED':
      case 'ROLE_UNUSABLE':
        return {
          name: 'SECURITY_HUB',
          ok: false,
          code: 'SECURITY_HUB_ACCESS_DENIED',
          region,
          message: `the role may not call securityhub:DescribeHub in ${region}`,
          fix: 'deploy the current customer-role template: its policy allows DescribeHub and BatchImportFindings for this account; check that no SCP denies Security Hub in this region',
        };
      case 'REGION_UNUSABLE':
        return regionUnusable(region);
      default:
        return unavailable('SECURITY_HUB', error, region);
    }
  }
}

function partnerFailure(error: AwsError, region: string, product: string): CheckResult {
  switch (error.code) {
    case 'PRODUCT_NOT_ENABLED':
      return {
        name: 'PARTNER_PRODUCT',
        ok: false,
        code: 'PRODUCT_NOT_ENABLED',
        region,
        message: `Security Hub in ${region} does not accept findings from ${product}, or is not enabled there`,
        fix: `in Security Hub (${region}), Integrations, accept findings from Data443 Vaikora: aws securityhub enable-import-findings-for-product --product-arn ${product} --region ${region}`,
      };
    case 'ACCESS_DENIED':
      return {
        name: 'PARTNER_PRODUCT',
        ok: false,
        code: 'SECURITY_HUB_ACCESS_DENIED',
        region,
        message: `Security Hub refused Data443's account for ${product} in ${region}`,
        fix: "this is on Data443's side (the product is not allow-listed for its account in this region): contact Data443 support",
      };
    default:
      return unavailable('PARTNER_PRODUCT', error, region);
  }
}

function assumeRoleFailure(error: AwsError, region: string, roleArn: string): CheckResult {
  if (error.code === 'ROLE_UNUSABLE') {
    return {
      name: 'ASSUME_ROLE',
      ok: false,
      code: 'ROLE_NOT_ASSUMABLE',
      region,
      message: `AssumeRole on ${roleArn} with this destination's ExternalId was refused`,
      fix: "deploy the CloudFormation stack from this destination's quick-create link (it sets the ExternalId and trusts Data443's worker), check the role ARN, then verify again",
    };
  }
  if (error.code === 'REGION_UNUSABLE') return { ...regionUnusable(region), name: 'ASSUME_ROLE' };
  return unavailable('ASSUME_ROLE', error, region);
}

function regionUnusable(region: string): CheckResult {
  return {
    name: 'SECURITY_HUB',
    ok: false,
    code: 'REGION_UNUSABLE',
    region,
    message: `STS is not usable in ${region} for this account (an opt-in region that is not enabled)`,
    fix: `enable the region ${region} for the account (Account settings, AWS Regions), or remove it from the destination`,
  };
}

function unavailable(name: CheckResult['name'], error: AwsError, region: string): CheckResult {
  return {
    name,
    ok: false,
    code: 'AWS_UNAVAILABLE',
    region,
    // The AWS error's own code only: its message can quote request details.
    message: `AWS did not answer conclusively (${error.awsCode ?? error.code})`,
    fix: 'try the verification again in a minute',
  };
}
