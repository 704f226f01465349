/**
 * IAM's side of STS AssumeRole that moto leaves out: whether a role's trust policy lets the caller
 * in for the `sts:ExternalId` it sent. Only that condition key is evaluated; principals and other
 * keys are not (moto's callers are not real principals). Pure apart from the role lookup it is given.
 */
import { isRecord, unescapeXml } from './wire.ts';

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

function globMatches(pattern: string, value: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${source}$`, 's').test(value);
}

function externalIdTest(operator: string, expected: string[], actual: string | undefined): boolean {
  const ifExists = operator.endsWith('IfExists');
  const base = (ifExists ? operator.slice(0, -'IfExists'.length) : operator).replace(
    /^ForAnyValue:|^ForAllValues:/,
    '',
  );
  const negated = base.startsWith('StringNot');
  if (actual === undefined) return ifExists || negated;
  const equalIgnoringCase = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  switch (base) {
    case 'StringEquals':
      return expected.includes(actual);
    case 'StringNotEquals':
      return !expected.includes(actual);
    case 'StringEqualsIgnoreCase':
      return expected.some((value) => equalIgnoringCase(value, actual));
    case 'StringNotEqualsIgnoreCase':
      return !expected.some((value) => equalIgnoringCase(value, actual));
    case 'StringLike':
      return expected.some((value) => globMatches(value, actual));
    case 'StringNotLike':
      return !expected.some((value) => globMatches(value, actual));
    default:
      // An operator this evaluator does not know is treated as not satisfied, as IAM does for a typo.
      return false;
  }
}

/**
 * Whether a role trust policy lets AssumeRole through for this ExternalId (undefined: none sent),
 * looking only at `sts:ExternalId` conditions of Allow statements for `sts:AssumeRole`; principals and
 * other condition keys are not evaluated (moto's callers are not real principals).
 */
export function trustPolicyAllowsExternalId(policy: unknown, externalId: string | undefined): boolean {
  if (!isRecord(policy)) return false;
  return asList(policy.Statement).some((statement) => {
    if (!isRecord(statement) || statement.Effect !== 'Allow') return false;
    const actions = asList(statement.Action).filter((a): a is string => typeof a === 'string');
    if (!actions.some((action) => globMatches(action.toLowerCase(), 'sts:assumerole'))) return false;
    const conditions = isRecord(statement.Condition) ? statement.Condition : {};
    return Object.entries(conditions).every(([operator, block]) => {
      if (!isRecord(block)) return true;
      return Object.entries(block).every(([key, value]) => {
        if (key.toLowerCase() !== 'sts:externalid') return true;
        const expected = asList(value).filter((v): v is string => typeof v === 'string');
        return externalIdTest(operator, expected, externalId);
      });
    });
  });
}

/** IAM GetRole for one role in its own account: the status and XML body, or undefined when unreachable. */
export type GetRole = (
  account: string,
  roleName: string,
) => Promise<{ status: number; body: string } | undefined>;

/**
 * Why IAM would refuse this AssumeRole (its query-protocol form body) for its ExternalId, or undefined
 * when it would not: the role is read with `getRole` and its trust policy evaluated with
 * `trustPolicyAllowsExternalId`. A role that cannot be read is refused, as IAM refuses a missing one.
 */
export async function externalIdDenial(
  form: URLSearchParams,
  accessKeyId: string | undefined,
  getRole: GetRole,
): Promise<string | undefined> {
  const roleArn = form.get('RoleArn') ?? '';
  const externalId = form.get('ExternalId') ?? undefined;
  const denied = `User: ${accessKeyId ?? 'unknown'} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`;
  const match = /^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  if (match === null) return denied;
  const [, roleAccount = '', roleName = ''] = match;
  const answer = await getRole(roleAccount, roleName);
  if (answer === undefined || answer.status !== 200) return denied;
  const encoded = /<AssumeRolePolicyDocument>([\s\S]*?)<\/AssumeRolePolicyDocument>/.exec(answer.body)?.[1];
  if (encoded === undefined) return denied;
  let policy: unknown;
  try {
    const unescaped = unescapeXml(encoded);
    policy = JSON.parse(unescaped.trimStart().startsWith('{') ? unescaped : decodeURIComponent(unescaped));
  } catch {
    return denied;
  }
  return trustPolicyAllowsExternalId(policy, externalId) ? undefined : denied;
}
