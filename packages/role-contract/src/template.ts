import { parseDocument } from 'yaml';
import { z } from 'zod';
import { assertAccountId, CUSTOMER_ROLE_PARAMETERS, PLACEHOLDER_DATA443_ACCOUNT_ID } from './constants.ts';
import { CUSTOMER_TEMPLATE_YAML } from './customer-template.generated.ts';
import { CustomerRoleError } from './errors.ts';

export { CUSTOMER_TEMPLATE_YAML };

const label = z.object({ default: z.string().min(1) }).strict();

const parameterSchema = z
  .object({
    Type: z.literal('String'),
    Description: z.string().min(1),
    Default: z.string().optional(),
    AllowedPattern: z.string().optional(),
    ConstraintDescription: z.string().optional(),
    NoEcho: z.boolean().optional(),
  })
  .strict();

const templateSchema = z
  .object({
    AWSTemplateFormatVersion: z.literal('2010-09-09'),
    Description: z.string().min(1),
    Metadata: z
      .object({
        'AWS::CloudFormation::Interface': z
          .object({
            ParameterGroups: z.array(z.object({ Label: label, Parameters: z.array(z.string()) }).strict()),
            ParameterLabels: z.record(z.string(), label),
          })
          .strict(),
      })
      .strict(),
    Parameters: z.record(z.string(), parameterSchema),
    Resources: z.record(
      z.string(),
      z.object({ Type: z.string(), Properties: z.record(z.string(), z.unknown()) }).strict(),
    ),
    Outputs: z.record(z.string(), z.object({ Description: z.string().min(1), Value: z.unknown() }).strict()),
  })
  .strict();

/** The customer-role template as parsed: intrinsic functions stay as `{ "Fn::Sub": ... }` data. */
export type CustomerRoleTemplate = z.infer<typeof templateSchema>;

/** Parses template text; rejects short-form tags (`!Sub`), which plain YAML cannot read. */
export function parseTemplate(text: string): CustomerRoleTemplate {
  const doc = parseDocument(text, { version: '1.2', schema: 'core', uniqueKeys: true });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    throw new CustomerRoleError(
      'invalid_template',
      `template is not plain YAML: ${problems.map((p) => p.message).join('; ')}`,
    );
  }
  const result = templateSchema.safeParse(doc.toJS());
  if (!result.success) {
    throw new CustomerRoleError(
      'invalid_template',
      `template has an unexpected shape: ${result.error.message}`,
    );
  }
  return result.data;
}

/**
 * The template text to publish: Data443AccountId's default set to Data443's real account. `body`
 * defaults to the embedded template (CUSTOMER_TEMPLATE_YAML, the repository's file byte for byte).
 */
export function renderTemplateBody(options: {
  readonly data443AccountId: string;
  readonly body?: string | undefined;
}): string {
  assertAccountId(options.data443AccountId, 'data443AccountId');
  const body = options.body ?? CUSTOMER_TEMPLATE_YAML;
  // Either quote style: Biome formats YAML too and may rewrite single quotes as double quotes.
  const placeholder = new RegExp(`^([ \\t]*Default: )(["']?)${PLACEHOLDER_DATA443_ACCOUNT_ID}\\2$`, 'gm');
  const occurrences = body.match(placeholder)?.length ?? 0;
  if (occurrences !== 1) {
    throw new CustomerRoleError(
      'invalid_template',
      `expected one Default: ${PLACEHOLDER_DATA443_ACCOUNT_ID} in the template, found ${occurrences}`,
    );
  }
  const rendered = body.replace(placeholder, `$1"${options.data443AccountId}"`);
  const renderedDefault =
    parseTemplate(rendered).Parameters[CUSTOMER_ROLE_PARAMETERS.data443AccountId]?.Default;
  if (renderedDefault !== options.data443AccountId) {
    throw new CustomerRoleError('invalid_template', 'the placeholder is not the Data443AccountId default');
  }
  return rendered;
}
