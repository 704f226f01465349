import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type CfnResource } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { addNagChecks, CentralStack, type CentralStackProps } from '../src/index.ts';

/** A real, minimal handler module that stands in for the apps' Lambda entries. */
const FIXTURE_ENTRY = fileURLToPath(new URL('./fixtures/handler.ts', import.meta.url));

export const FIXTURE_ENTRIES = {
  worker: FIXTURE_ENTRY,
  dispatcher: FIXTURE_ENTRY,
  api: FIXTURE_ENTRY,
} as const;

export interface Synthesized {
  readonly app: App;
  readonly stack: CentralStack;
  readonly checks: AwsSolutionsChecks;
  readonly template: Template;
  /** The synthesized template as plain JSON. */
  readonly json: CfnTemplate;
  readonly outdir: string;
  /** Removes the cloud assembly (bundles included). */
  cleanup(): void;
}

export interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: readonly string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResourceJson>;
  readonly Parameters?: Record<string, Record<string, unknown>>;
  readonly Outputs?: Record<string, Record<string, unknown>>;
}

export interface SynthesizeOptions {
  readonly props?: CentralStackProps;
  /** Run esbuild on the entries (default false: tests about the template do not need the bundles). */
  readonly bundle?: boolean;
  /** Extra work on the stack before synthesis (e.g. a deliberate violation). */
  readonly before?: (stack: CentralStack) => void;
  /** Build other stacks of the same app first (e.g. a VPC), then the central stack's props. */
  readonly withApp?: (app: App) => CentralStackProps;
}

/**
 * Builds the app as `bin/central.ts` does (the stack plus cdk-nag's AWS Solutions checks) with the
 * fixture entries, synthesizes it once into a temporary folder and returns the template.
 */
export function synthesize(options: SynthesizeOptions = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'vsh-central-'));
  const cleanup = () => rmSync(outdir, { recursive: true, force: true });
  try {
    // `aws:cdk:bundling-stacks: []` is how the CDK CLI skips bundling for stacks it is not deploying.
    const app = new App({
      outdir,
      context: options.bundle === true ? {} : { 'aws:cdk:bundling-stacks': [] },
    });
    const extraProps = options.withApp?.(app) ?? {};
    const stack = new CentralStack(app, 'Central', {
      ...extraProps,
      ...options.props,
      entries: { ...FIXTURE_ENTRIES, ...options.props?.entries },
    });
    options.before?.(stack);
    const checks = addNagChecks(app);
    // Synthesizes the app once (Stage caches the assembly); the nag plugin throws on any finding.
    const template = Template.fromStack(stack);
    return { app, stack, checks, template, json: template.toJSON() as CfnTemplate, outdir, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** A resource's property; throws naming it when the resource or the property is missing. */
export function property<T>(resource: CfnResourceJson | undefined, name: string): T {
  const value = resource?.Properties?.[name];
  if (value === undefined) throw new Error(`missing property ${name}`);
  return value as T;
}

/** The logical id of an L2 construct's main CloudFormation resource. */
export function logicalId(stack: CentralStack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnResource);
}

export interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | readonly string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

/** Every statement of every identity policy attached to a role: its inline policies and AWS::IAM::Policy resources. */
export function roleStatements(json: CfnTemplate, roleLogicalId: string): Statement[] {
  const role = json.Resources[roleLogicalId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleLogicalId} is not a role`);
  const inline = (
    (role.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]
  ).flatMap((policy) => policy.PolicyDocument.Statement);
  const attached = Object.values(json.Resources)
    .filter((resource) => resource.Type === 'AWS::IAM::Policy')
    .filter((resource) =>
      ((resource.Properties?.Roles ?? []) as unknown[]).some(
        (ref) => JSON.stringify(ref) === JSON.stringify({ Ref: roleLogicalId }),
      ),
    )
    .flatMap((resource) => property<{ Statement: Statement[] }>(resource, 'PolicyDocument').Statement);
  return [...inline, ...attached];
}

/** A statement as a comparable value: sorted actions, resources as a sorted list, no Sid. */
export function normalize(statement: Statement): {
  effect: string;
  actions: string[];
  resources: unknown[];
  condition: unknown;
} {
  const list = (value: unknown): unknown[] =>
    value === undefined ? [] : Array.isArray(value) ? value : [value];
  return {
    effect: statement.Effect,
    actions: (list(statement.Action) as string[]).toSorted(),
    resources: list(statement.Resource)
      .map((resource) => JSON.stringify(resource))
      .toSorted()
      .map((resource) => JSON.parse(resource) as unknown),
    condition: statement.Condition,
  };
}

/**
 * Evaluates the intrinsics this stack uses in ARNs (Ref to pseudo parameters and roles, Fn::Join,
 * Fn::GetAtt Arn of a named role) for a concrete partition and account; throws on anything else.
 */
export function evaluate(
  value: unknown,
  json: CfnTemplate,
  env: { readonly partition: string; readonly accountId: string },
): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object')
    throw new Error(`cannot evaluate ${JSON.stringify(value)}`);
  const [fn, arg] = Object.entries(value)[0] ?? [];
  if (fn === 'Ref' && arg === 'AWS::Partition') return env.partition;
  if (fn === 'Ref' && arg === 'AWS::AccountId') return env.accountId;
  if (fn === 'Fn::Join' && Array.isArray(arg)) {
    const [separator, parts] = arg as [string, unknown[]];
    return parts.map((part) => evaluate(part, json, env)).join(separator);
  }
  if (fn === 'Fn::GetAtt' && Array.isArray(arg) && arg[1] === 'Arn') {
    const resource = json.Resources[String(arg[0])];
    const roleName = resource?.Properties?.RoleName;
    if (resource?.Type === 'AWS::IAM::Role' && typeof roleName === 'string') {
      return `arn:${env.partition}:iam::${env.accountId}:role/${roleName}`;
    }
  }
  throw new Error(`cannot evaluate ${JSON.stringify(value)}`);
}

/** IAM's string matching for ARNs in `Resource`: `*` any run of characters, `?` one character. */
export function iamGlobMatches(pattern: string, value: string): boolean {
  const regex = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')))
    .join('');
  return new RegExp(`^${regex}$`, 's').test(value);
}
