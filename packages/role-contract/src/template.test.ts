import { describe, expect, it } from 'vitest';
import { CUSTOMER_ROLE_PARAMETERS, PLACEHOLDER_DATA443_ACCOUNT_ID } from './constants.ts';
import { CUSTOMER_TEMPLATE_YAML, parseTemplate, renderTemplateBody } from './template.ts';

const template = parseTemplate(CUSTOMER_TEMPLATE_YAML);

describe('parseTemplate', () => {
  it('reads the embedded template, with the placeholder as the Data443AccountId default', () => {
    expect(template.Parameters[CUSTOMER_ROLE_PARAMETERS.data443AccountId]?.Default).toBe(
      PLACEHOLDER_DATA443_ACCOUNT_ID,
    );
  });

  it('refuses a short-form tag such as !Sub, which plain YAML cannot read', () => {
    const withTag = CUSTOMER_TEMPLATE_YAML.replace(/Fn::Sub: (["'])arn:.*:root\1/, "!Sub 'x'");

    expect(withTag).not.toBe(CUSTOMER_TEMPLATE_YAML);
    expect(() => parseTemplate(withTag)).toThrow(/not plain YAML/);
  });

  it('refuses a document of another shape', () => {
    expect(() => parseTemplate('AWSTemplateFormatVersion: "2010-09-09"\n')).toThrow(
      expect.objectContaining({ code: 'invalid_template' }),
    );
  });
});

describe('renderTemplateBody', () => {
  it('publishes with the Data443 account as the default and nothing else changed', () => {
    const rendered = parseTemplate(renderTemplateBody({ data443AccountId: '444455556666' }));

    const { Data443AccountId, ...otherParameters } = rendered.Parameters;
    const { Data443AccountId: original, ...originalOthers } = template.Parameters;

    expect(Data443AccountId?.Default).toBe('444455556666');
    expect({ ...Data443AccountId, Default: original?.Default }).toEqual(original);
    expect(otherParameters).toEqual(originalOthers);
    expect({ ...rendered, Parameters: {} }).toEqual({ ...template, Parameters: {} });
  });

  it('refuses an account ID that is not 12 digits', () => {
    expect(() => renderTemplateBody({ data443AccountId: '12345' })).toThrow(
      expect.objectContaining({ code: 'invalid_account_id' }),
    );
  });

  it('refuses a template where the placeholder is not exactly one default', () => {
    const twice = `${CUSTOMER_TEMPLATE_YAML}\n# Default: ${PLACEHOLDER_DATA443_ACCOUNT_ID}\n    Default: ${PLACEHOLDER_DATA443_ACCOUNT_ID}\n`;
    const none = CUSTOMER_TEMPLATE_YAML.replaceAll(PLACEHOLDER_DATA443_ACCOUNT_ID, '999999999999');

    for (const body of [twice, none]) {
      expect(() => renderTemplateBody({ data443AccountId: '444455556666', body })).toThrow(
        expect.objectContaining({ code: 'invalid_template' }),
      );
    }
  });
});
