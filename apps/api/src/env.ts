import { isIP } from 'node:net';
import {
  AWS_REGION_PATTERN,
  isHostAndPort,
  PARTNER_PRODUCT_NAME,
  type PartnerProduct,
  ROLE_ARN_PATTERN,
} from '@vsh/core';
import {
  ACCOUNT_ID_PATTERN,
  DEFAULT_WORKER_ROLE_NAME,
  IAM_ROLE_NAME_PATTERN,
  PLACEHOLDER_DATA443_ACCOUNT_ID,
} from '@vsh/role-contract';
import { z } from 'zod';
import { estimateEntropyBits, MIN_OPERATOR_KEY_BITS } from './lib/api-keys.ts';

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

const intFrom = (min: number, max: number, fallback: number) =>
  z.preprocess(
    (value) => (value === '' || value === undefined ? undefined : Number(value)),
    z.number().int().min(min).max(max).default(fallback),
  );

const base64Key = z
  .string()
  .refine(
    (value) =>
      Buffer.from(value, 'base64').length === 32 && Buffer.from(value, 'base64').toString('base64') === value,
    'must be 32 random bytes in base64 (openssl rand -base64 32)',
  );

const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https URL' });

const rawEnvSchema = z.object({
  APP_ENV: optional(z.enum(['production', 'local'], { error: 'must be production or local' })),
  PORT: intFrom(0, 65_535, 8080),
  HOST: optional(z.string().min(1)),
  LOG_LEVEL: optional(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])),
  DATABASE_URL: optional(z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' })),
  DATA_DIR: optional(z.string().min(1)),
  OPERATOR_API_KEY: z
    .string({ error: 'is required' })
    .min(32, 'must be at least 32 characters')
    .max(512, 'must be at most 512 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII')
    .refine(
      // Length is judged above; a short key is refused once, for that.
      (value) => value.length < 32 || estimateEntropyBits(value) >= MIN_OPERATOR_KEY_BITS,
      `is too predictable (under ${MIN_OPERATOR_KEY_BITS} bits estimated: repeated characters, sequences, a repeated pattern or few distinct characters); generate one, e.g. openssl rand -base64 32`,
    ),
  MASTER_KEY: optional(base64Key),
  MASTER_KEY_PREVIOUS: optional(z.string()),
  KMS_KEY_ID: optional(z.string().min(1).max(2048)),
  DATA443_ACCOUNT_ID: optional(z.string().regex(ACCOUNT_ID_PATTERN, 'must be 12 digits')),
  WORKER_ROLE_NAME: optional(z.string().regex(IAM_ROLE_NAME_PATTERN, 'must be an IAM role name')),
  /** Data443's allow-listed partner account (ADR 0121); unset: partner-product mode is not offered. */
  PARTNER_PRODUCT_ACCOUNT_ID: optional(z.string().regex(ACCOUNT_ID_PATTERN, 'must be 12 digits')),
  PARTNER_PRODUCT_NAME: optional(
    z.string().regex(PARTNER_PRODUCT_NAME, 'must be company/product in lower-case words and dashes'),
  ),
  WORKER_ROLE_ARN: optional(z.string().regex(ROLE_ARN_PATTERN, 'must be an IAM role ARN')),
  CUSTOMER_TEMPLATE_URL: optional(httpsUrl),
  PUBLIC_BASE_URL: optional(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  SIGN_IN_LINK_TTL_SECONDS: intFrom(60, 7 * 86_400, 86_400),
  VAIKORA_ALLOWED_HOSTS: optional(z.string()),
  TRUSTED_PROXIES: optional(z.string().max(4096, 'must be at most 4096 characters')),
  AWS_ENDPOINT_URL: optional(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  AWS_REGION: optional(z.string().regex(AWS_REGION_PATTERN, 'must be an AWS region name')),
  VERIFY_PROPAGATION_SECONDS: intFrom(0, 600, 60),
  RATE_LIMIT_PER_MINUTE: intFrom(1, 1_000_000, 600),
  MAX_BODY_BYTES: intFrom(1024, 10 * 1024 * 1024, 64 * 1024),
});

/** The API's configuration, parsed once at start. */
export interface ApiEnv {
  /** `local` only when `APP_ENV=local` (what `pnpm start` sets for its stack); otherwise production rules. */
  mode: 'production' | 'local';
  port: number;
  host: string;
  logLevel: string;
  database: { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };
  operatorApiKey: string;
  masterKey: { kind: 'local'; primaryKey: string; previousKeys: string[] } | { kind: 'kms'; keyId: string };
  data443AccountId: string;
  workerRoleName: string;
  /** Data443's partner product when partner-product mode is offered (ADR 0121). */
  partnerProduct: PartnerProduct | undefined;
  /** The worker role the API assumes to verify customer roles as the worker (ADR 0071); unset locally. */
  workerRoleArn: string | undefined;
  /** The template published for CloudFormation quick-create (https, S3); unset locally (no quick-create). */
  customerTemplateUrl: string | undefined;
  /** Where browsers reach the API (links, template download); locally the server's own URL when unset. */
  publicBaseUrl: string | undefined;
  signInLinkTtlMs: number;
  vaikoraAllowedHosts: string[];
  /** Proxies (addresses or CIDR ranges) whose X-Forwarded-For the Node server believes; empty: none. */
  trustedProxies: string[];
  awsEndpointUrl: string | undefined;
  awsRegion: string;
  verifyPropagationMs: number;
  rateLimitPerMinute: number;
  maxBodyBytes: number;
}

/** A configuration value the API cannot start with; the message names the variable, never its value. */
export class EnvError extends Error {
  override name = 'EnvError';
}

function isAddressOrRange(entry: string): boolean {
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  const max = family === 4 ? 32 : 128;
  return /^[0-9]{1,3}$/.test(bits) && Number(bits) <= max;
}

const commaList = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

/**
 * Parses the API's environment. Throws EnvError naming every bad variable (never its value). Fail safe:
 * without `APP_ENV=local` the production rules apply, so a forgotten variable stops the process instead of
 * quietly running with a local convenience (http to loopback Vaikora URLs, cookies without `Secure`, a
 * placeholder Data443 account, an unresolvable template URL, an embedded database under `.data`).
 */
export function parseEnv(source: Readonly<Record<string, string | undefined>>): ApiEnv {
  const parsed = rawEnvSchema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || 'environment'} ${issue.message}`,
    );
    throw new EnvError(`invalid configuration: ${problems.join('; ')}`);
  }
  const env = parsed.data;
  const mode = env.APP_ENV ?? 'production';
  const problems: string[] = [];

  if (env.MASTER_KEY !== undefined && env.KMS_KEY_ID !== undefined) {
    problems.push('MASTER_KEY and KMS_KEY_ID are exclusive: set one');
  }
  if (env.MASTER_KEY === undefined && env.KMS_KEY_ID === undefined) {
    problems.push('MASTER_KEY or KMS_KEY_ID is required');
  }
  const previousKeys = commaList(env.MASTER_KEY_PREVIOUS);
  if (previousKeys.some((key) => !base64Key.safeParse(key).success)) {
    problems.push('MASTER_KEY_PREVIOUS must be a comma-separated list of 32-byte base64 keys');
  }
  const allowedHosts = commaList(env.VAIKORA_ALLOWED_HOSTS ?? 'api.vaikora.com').map((host) =>
    host.toLowerCase(),
  );
  if (allowedHosts.length === 0 || allowedHosts.some((host) => !isHostAndPort(host))) {
    problems.push('VAIKORA_ALLOWED_HOSTS must be a comma-separated list of host names');
  }
  const trustedProxies = commaList(env.TRUSTED_PROXIES);
  if (trustedProxies.some((entry) => !isAddressOrRange(entry))) {
    problems.push('TRUSTED_PROXIES must be a comma-separated list of IP addresses or CIDR ranges');
  }
  if (mode === 'production') {
    const required = (name: string) =>
      problems.push(`${name} is required in production (APP_ENV is not local)`);
    if (env.DATA443_ACCOUNT_ID === undefined) required('DATA443_ACCOUNT_ID');
    if (env.CUSTOMER_TEMPLATE_URL === undefined) required('CUSTOMER_TEMPLATE_URL');
    if (env.VAIKORA_ALLOWED_HOSTS === undefined) required('VAIKORA_ALLOWED_HOSTS');
    if (env.DATABASE_URL === undefined && env.DATA_DIR === undefined) {
      problems.push(
        'DATABASE_URL is required in production (APP_ENV is not local); DATA_DIR instead chooses the embedded database explicitly',
      );
    }
    if (env.AWS_ENDPOINT_URL !== undefined) problems.push('AWS_ENDPOINT_URL is for local mode only');
    // Sign-in links travel by mail and chat: in production they must be https.
    if (env.PUBLIC_BASE_URL !== undefined && !env.PUBLIC_BASE_URL.startsWith('https://')) {
      problems.push('PUBLIC_BASE_URL must be an https URL in production');
    }
  }
  if (problems.length > 0) throw new EnvError(`invalid configuration: ${problems.join('; ')}`);

  return {
    mode,
    port: env.PORT,
    host: env.HOST ?? (mode === 'production' ? '0.0.0.0' : '127.0.0.1'),
    logLevel: env.LOG_LEVEL ?? 'info',
    database:
      env.DATABASE_URL !== undefined
        ? { kind: 'postgres', url: env.DATABASE_URL }
        : { kind: 'pglite', dataDir: env.DATA_DIR ?? '.data/pglite' },
    operatorApiKey: env.OPERATOR_API_KEY,
    masterKey:
      env.KMS_KEY_ID !== undefined
        ? { kind: 'kms', keyId: env.KMS_KEY_ID }
        : { kind: 'local', primaryKey: env.MASTER_KEY ?? '', previousKeys },
    data443AccountId: env.DATA443_ACCOUNT_ID ?? PLACEHOLDER_DATA443_ACCOUNT_ID,
    workerRoleName: env.WORKER_ROLE_NAME ?? DEFAULT_WORKER_ROLE_NAME,
    partnerProduct:
      env.PARTNER_PRODUCT_ACCOUNT_ID === undefined
        ? undefined
        : { accountId: env.PARTNER_PRODUCT_ACCOUNT_ID, name: env.PARTNER_PRODUCT_NAME ?? 'data443/vaikora' },
    workerRoleArn: env.WORKER_ROLE_ARN,
    customerTemplateUrl: env.CUSTOMER_TEMPLATE_URL,
    publicBaseUrl: env.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    signInLinkTtlMs: env.SIGN_IN_LINK_TTL_SECONDS * 1000,
    vaikoraAllowedHosts: allowedHosts,
    trustedProxies,
    awsEndpointUrl: env.AWS_ENDPOINT_URL,
    awsRegion: env.AWS_REGION ?? 'us-east-1',
    verifyPropagationMs: env.VERIFY_PROPAGATION_SECONDS * 1000,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    maxBodyBytes: env.MAX_BODY_BYTES,
  };
}

/** Reads the process environment once; the only place the API touches `process.env`. */
export function loadEnv(): ApiEnv {
  return parseEnv(process.env);
}
