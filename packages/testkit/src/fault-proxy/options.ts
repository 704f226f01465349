/** The fault proxy's options (validated with zod) and its one error type. */
import { CodedError } from '@vsh/core';
import { z } from 'zod';
import { rulesSchema } from './faults.ts';

export const optionsSchema = z
  .object({
    /** Where requests are forwarded (moto). Optional only with the memory Security Hub. */
    upstream: z.url().optional(),
    /** `memory`: BatchImportFindings, GetFindings and hub enablement answered by the proxy itself. */
    securityHub: z.enum(['upstream', 'memory']).default('upstream'),
    /**
     * `memory`: SQS answered by the proxy itself (sqs-store.ts: queues, visibility, long polling), for
     * benchmarks that must not spend their machine's CPU on moto's SQS.
     */
    sqs: z.enum(['upstream', 'memory']).default('upstream'),
    /** Memory backend: importing or reading findings requires EnableSecurityHub first, as in AWS. */
    requireEnabledHub: z.boolean().default(true),
    /**
     * Opt-in: answer STS AssumeRole with 403 AccessDenied, as IAM does, when the role does not exist in
     * moto's IAM or its trust policy's `sts:ExternalId` condition does not hold for the request (moto's STS
     * checks neither). Only that condition is evaluated; principals and other keys are not.
     */
    enforceExternalId: z.boolean().default(false),
    /**
     * Memory backend: partner accounts Security Hub has allow-listed, each with its product's
     * `company/product` name (ADR 0121). Such an account may import findings of other accounts under
     * its product ARN; each finding lands in its AwsAccountId's hub when that hub is enabled and has
     * accepted the product's findings (EnableImportFindingsForProduct), and fails per finding otherwise.
     */
    partners: z
      .record(z.string().regex(/^[0-9]{12}$/), z.string().regex(/^[a-z0-9-]+\/[a-z0-9-]+$/))
      .default({}),
    seed: z.number().int().default(1),
    rules: rulesSchema.prefault({}),
    /** Milliseconds, monotonic; for the token buckets. */
    clock: z
      .custom<() => number>((value) => typeof value === 'function', 'clock must be a function')
      .optional(),
  })
  .strict()
  .refine((o) => o.upstream !== undefined || o.securityHub === 'memory', 'upstream is required');

export type FaultProxyOptions = z.input<typeof optionsSchema>;
export type Options = z.output<typeof optionsSchema>;

export type FaultProxyErrorCode = 'invalid_options' | 'listen_failed';

/** The fault proxy was misconfigured or could not listen. */
export class FaultProxyError extends CodedError<FaultProxyErrorCode> {
  override name = 'FaultProxyError';
}

/** The parsed input, or a FaultProxyError `invalid_options` naming what is wrong. */
export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw new FaultProxyError('invalid_options', z.prettifyError(result.error));
  return result.data;
}
