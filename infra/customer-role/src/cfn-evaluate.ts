// Test support: a tiny CloudFormation evaluator, just enough for this template (Ref, Fn::Sub,
// Fn::GetAtt, pseudo parameters, parameter defaults and AllowedPattern). It lets unit tests hold
// the template and the TypeScript policies together without deploying; anything it does not know
// throws, so a template change it cannot follow fails the tests instead of passing them.
import type { CustomerRoleTemplate } from '@vsh/role-contract';

interface PseudoParameters {
  readonly 'AWS::Partition': string;
  readonly 'AWS::AccountId': string;
  readonly 'AWS::Region': string;
}

export interface EvaluationContext {
  readonly parameters: Readonly<Record<string, string>>;
  readonly pseudo: PseudoParameters;
  /** Resolves `Fn::GetAtt`; without it GetAtt throws. */
  readonly getAtt?: (logicalId: string, attribute: string) => string;
}

/** Applies defaults and AllowedPattern as CreateStack would; throws where CreateStack would fail. */
export function resolveParameters(
  template: CustomerRoleTemplate,
  given: Readonly<Record<string, string>>,
): Record<string, string> {
  for (const name of Object.keys(given)) {
    if (!(name in template.Parameters)) throw new Error(`parameter ${name} does not exist in the template`);
  }
  const resolved: Record<string, string> = {};
  for (const [name, spec] of Object.entries(template.Parameters)) {
    const value = given[name] ?? spec.Default;
    if (value === undefined) throw new Error(`parameter ${name} has no value`);
    // CloudFormation matches AllowedPattern against the whole value (Java regex); these patterns
    // use only syntax that means the same in JavaScript.
    if (spec.AllowedPattern !== undefined && !new RegExp(`^(?:${spec.AllowedPattern})$`).test(value)) {
      throw new Error(`parameter ${name} does not match its AllowedPattern`);
    }
    resolved[name] = value;
  }
  return resolved;
}

function lookup(name: string, context: EvaluationContext): string {
  if (name in context.pseudo) return context.pseudo[name as keyof PseudoParameters];
  const value = context.parameters[name];
  if (value === undefined) throw new Error(`unknown reference ${name}`);
  return value;
}

function substitute(
  text: string,
  variables: Readonly<Record<string, string>>,
  context: EvaluationContext,
): string {
  return text.replace(/\$\{([^}]*)\}/g, (_whole, name: string) => {
    if (name.startsWith('!')) return `\${${name.slice(1)}}`;
    const variable = variables[name];
    if (variable !== undefined) return variable;
    const dot = name.indexOf('.');
    if (dot > 0 && !name.startsWith('AWS::')) {
      return getAtt([name.slice(0, dot), name.slice(dot + 1)], context);
    }
    return lookup(name, context);
  });
}

function getAtt(args: unknown, context: EvaluationContext): string {
  if (
    !Array.isArray(args) ||
    args.length !== 2 ||
    typeof args[0] !== 'string' ||
    typeof args[1] !== 'string'
  ) {
    throw new Error('Fn::GetAtt takes [logicalId, attribute]');
  }
  if (context.getAtt === undefined) throw new Error(`no value for Fn::GetAtt ${args[0]}.${args[1]}`);
  return context.getAtt(args[0], args[1]);
}

/** Evaluates a template fragment with the parameters and pseudo parameters substituted. */
export function evaluate(node: unknown, context: EvaluationContext): unknown {
  if (Array.isArray(node)) return node.map((item) => evaluate(item, context));
  if (node === null || typeof node !== 'object') return node;
  const entries = Object.entries(node);
  const [first] = entries;
  if (entries.length === 1 && first !== undefined) {
    const [key, arg] = first;
    if (key === 'Ref') {
      if (typeof arg !== 'string') throw new Error('Ref takes a name');
      return lookup(arg, context);
    }
    if (key === 'Fn::Sub') {
      if (typeof arg === 'string') return substitute(arg, {}, context);
      if (Array.isArray(arg) && typeof arg[0] === 'string' && arg.length === 2) {
        const variables = evaluate(arg[1], context);
        if (variables === null || typeof variables !== 'object')
          throw new Error('Fn::Sub variables must be a map');
        return substitute(arg[0], variables as Record<string, string>, context);
      }
      throw new Error('Fn::Sub takes a string or [string, variables]');
    }
    if (key === 'Fn::GetAtt') return getAtt(arg, context);
    if (key.startsWith('Fn::')) throw new Error(`the evaluator does not know ${key}`);
  }
  return Object.fromEntries(entries.map(([key, value]) => [key, evaluate(value, context)]));
}
