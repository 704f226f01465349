import { describe, expect, it } from 'vitest';
import { evaluate, resolveParameters } from './cfn-evaluate.ts';
import { loadTemplate } from './template.ts';

const context = {
  parameters: { Name: 'n1' },
  pseudo: { 'AWS::Partition': 'aws-cn', 'AWS::AccountId': '123456789012', 'AWS::Region': 'cn-north-1' },
  getAtt: (id: string, attribute: string) => `${id}|${attribute}`,
};

describe('evaluate', () => {
  it('substitutes parameters, pseudo parameters, attributes and escaped literals in Fn::Sub', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a JavaScript template
    const node = { 'Fn::Sub': 'arn:${AWS::Partition}:${AWS::AccountId}:${Name}:${Role.Arn}:${!Literal}' };

    const value = evaluate(node, context);

    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a JavaScript template
    expect(value).toBe('arn:aws-cn:123456789012:n1:Role|Arn:${Literal}');
  });

  it('resolves Ref and Fn::GetAtt inside nested maps and lists', () => {
    const node = { a: [{ Ref: 'Name' }, { 'Fn::GetAtt': ['Role', 'Arn'] }], b: { c: 'plain' } };

    expect(evaluate(node, context)).toEqual({ a: ['n1', 'Role|Arn'], b: { c: 'plain' } });
  });

  it('throws on an intrinsic function it does not know and on an unknown reference', () => {
    expect(() => evaluate({ 'Fn::Join': ['', ['a']] }, context)).toThrow(/does not know Fn::Join/);
    expect(() => evaluate({ Ref: 'Missing' }, context)).toThrow(/unknown reference Missing/);
  });
});

describe('resolveParameters', () => {
  it('fills defaults and rejects what the AllowedPattern rejects', () => {
    const template = loadTemplate();
    const externalId = 'a'.repeat(43);

    expect(resolveParameters(template, { ExternalId: externalId }).RoleName).toBe(
      'Data443-VaikoraSecurityHub',
    );
    expect(() => resolveParameters(template, {})).toThrow(/ExternalId has no value/);
    expect(() => resolveParameters(template, { ExternalId: 'short' })).toThrow(/AllowedPattern/);
    expect(() => resolveParameters(template, { ExternalId: externalId, Extra: 'x' })).toThrow(
      /does not exist/,
    );
  });
});
