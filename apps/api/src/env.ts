import {
  ACCOUNT_ID_PATTERN,
  DEFAULT_WORKER_ROLE_NAME,
  IAM_ROLE_NAME_PATTERN,
  PLACEHOLDER_DATA443_ACCOUNT_ID,
} from '@vsh/customer-role';
import { z } from 'zod';

// Only where no real template exists (local mode): `.invalid` can never resolve (RFC 2606).
const LOCAL_TEMPLATE_URL = 'https://templates.invalid/customer-role/template.yaml';

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
  APP_ENV: optional(z.enum(['production', 'local'])),
  NODE_ENV: optional(z.string()),
  PORT: intFrom(0, 65_535, 8080),
  HOST: optional(z.string().min(1)),
  LOG_LEVEL: optional(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])),
  DATABASE_URL: optional(z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' })),
  DATA_DIR: optional(z.string().min(1)),
  OPERATOR_API_KEY: z
    .string({ error: 'is required' })
    .min(32, 'must be at least 32 characters')
    .max(512, 'must be at most 512 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII'),
  MASTER_KEY: optional(base64Key),
  MASTER_KEY_PREVIOUS: optional(z.string()),
  KMS_KEY_ID: optional(z.string().min(1).max(2048)),
  DATA443_ACCOUNT_ID: optional(z.string().regex(ACCOUNT_ID_PATTERN, 'must be 12 digits')),
  WORKER_ROLE_NAME: optional(z.string().regex(IAM_ROLE_NAME_PATTERN, 'must be an IAM role name')),
  WORKER_ROLE_ARN: optional(
    z
      .string()
      .regex(
        /^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role\/[A-Za-z0-9+=,.@_-]{1,64}$/,
        'must be an IAM role ARN',
      ),
  ),
  CUSTOMER_TEMPLATE_URL: optional(httpsUrl),
  VAIKORA_ALLOWED_HOSTS: optional(z.string()),
  AWS_ENDPOINT_URL: optional(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  AWS_REGION: optional(z.string().regex(/^[a-z]{2}(-[a-z]+)+-[0-9]+$/, 'must be an AWS region name')),
  VERIFY_PROPAGATION_SECONDS: intFrom(0, 600, 60),
  RATE_LIMIT_PER_MINUTE: intFrom(1, 1_000_000, 600),
  MAX_BODY_BYTES: intFrom(1024, 10 * 1024 * 1024, 64 * 1024),
});

const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?$/;

/** The API's configuration, parsed once at start. */
export interface ApiEnv {
  mode: 'production' | 'local';
  port: number;
  host: string;
  logLevel: string;
  database: { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };
  operatorApiKey: string;
  masterKey: { kind: 'local'; primaryKey: string; previousKeys: string[] } | { kind: 'kms'; keyId: string };
  data443AccountId: string;
  workerRoleName: string;
  /** The worker role the API assumes to verify customer roles as the worker (ADR 0071); unset locally. */
  workerRoleArn: string | undefined;
  customerTemplateUrl: string;
  vaikoraAllowedHosts: string[];
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

/**
 * Parses the API's environment. Throws EnvError naming every bad variable. Production refuses the
 * local conveniences: it needs Data443's account, the published template and loopback-free settings.
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
  const mode = env.APP_ENV ?? (env.NODE_ENV === 'production' ? 'production' : 'local');
  const problems: string[] = [];

  if (env.MASTER_KEY !== undefined && env.KMS_KEY_ID !== undefined) {
    problems.push('MASTER_KEY and KMS_KEY_ID are exclusive: set one');
  }
  if (env.MASTER_KEY === undefined && env.KMS_KEY_ID === undefined) {
    problems.push('MASTER_KEY or KMS_KEY_ID is required');
  }
  const previousKeys = (env.MASTER_KEY_PREVIOUS ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key !== '');
  if (previousKeys.some((key) => !base64Key.safeParse(key).success)) {
    problems.push('MASTER_KEY_PREVIOUS must be a comma-separated list of 32-byte base64 keys');
  }
  const allowedHosts = (env.VAIKORA_ALLOWED_HOSTS ?? 'api.vaikora.com')
    .split(',')
    .map((host) => host.trim().toLowerCase())
    .filter((host) => host !== '');
  if (allowedHosts.length === 0 || allowedHosts.some((host) => !HOST_NAME.test(host))) {
    problems.push('VAIKORA_ALLOWED_HOSTS must be a comma-separated list of host names');
  }
  if (mode === 'production') {
    if (env.DATA443_ACCOUNT_ID === undefined) problems.push('DATA443_ACCOUNT_ID is required in production');
    if (env.CUSTOMER_TEMPLATE_URL === undefined)
      problems.push('CUSTOMER_TEMPLATE_URL is required in production');
    if (env.AWS_ENDPOINT_URL !== undefined) problems.push('AWS_ENDPOINT_URL is for local mode only');
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
    workerRoleArn: env.WORKER_ROLE_ARN,
    customerTemplateUrl: env.CUSTOMER_TEMPLATE_URL ?? LOCAL_TEMPLATE_URL,
    vaikoraAllowedHosts: allowedHosts,
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
