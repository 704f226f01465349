import { describe, expect, it } from 'vitest';
import { parseAction } from './action.ts';
import {
  ANOMALY_FINDING_TYPE,
  ASFF_LIMITS,
  type AsffFinding,
  COMPANY_NAME,
  FINDING_TYPE,
  PRODUCT_FIELD_KEYS,
  PRODUCT_NAME,
} from './asff.ts';
import { mapAction } from './map.ts';
import { textProblem, validateFinding } from './validate.ts';

function valid(): AsffFinding {
  const parsed = parseAction({ id: 'v-1', timestamp: '2026-11-01T00:00:00Z', risk_level: 'high' });
  if (!parsed.ok) throw new Error('fixture');
  return mapAction(parsed.action, {
    destination: { accountId: '123456789012', region: 'us-east-1', partition: 'aws' },
    now: '2026-11-25T00:00:00.000Z',
  });
}

describe('validateFinding', () => {
  it("accepts a partner product ARN (ADR 0121) in the finding's region", () => {
    const f = valid();
    f.ProductArn = 'arn:aws:securityhub:us-east-1:111122223333:product/data443/vaikora';

    expect(validateFinding(f).ok).toBe(true);
  });

  it('accepts a mapped finding and reports its size', () => {
    const result = validateFinding(valid());

    expect(result.ok).toBe(true);
    if (result.ok)
      expect(result.value.bytes).toBeGreaterThanOrEqual(
        Buffer.byteLength(JSON.stringify(result.value.finding)),
      );
  });

  it.each<[string, (f: AsffFinding) => void, string]>([
    [
      'blank title',
      (f) => {
        f.Title = '  ';
      },
      'Title must not be blank',
    ],
    [
      'long title',
      (f) => {
        f.Title = 't'.repeat(257);
      },
      'Title is longer than 256',
    ],
    [
      'control characters',
      (f) => {
        f.Description = 'a\u0000b';
      },
      'Description contains control characters',
    ],
    [
      'newline',
      (f) => {
        f.Title = 'a\nb';
      },
      'Title contains control characters',
    ],
    [
      'lone surrogate',
      (f) => {
        f.Title = 'a\ud800';
      },
      'Title is not well-formed unicode',
    ],
    [
      'bad account',
      (f) => {
        f.AwsAccountId = '12345';
      },
      'AwsAccountId must be 12 digits',
    ],
    [
      'foreign product ARN',
      (f) => {
        f.ProductArn = 'arn:aws:securityhub:us-east-1:999999999999:product/999999999999/default';
      },
      'ProductArn',
    ],
    [
      "a partner product ARN of another region than the finding's",
      (f) => {
        f.ProductArn = 'arn:aws:securityhub:eu-west-1:111122223333:product/data443/vaikora';
      },
      'ProductArn',
    ],
    [
      'a partner product ARN whose product name is not company/product',
      (f) => {
        f.ProductArn = 'arn:aws:securityhub:us-east-1:111122223333:product/data443';
      },
      'ProductArn',
    ],
    [
      'bad timestamp',
      (f) => {
        f.CreatedAt = '2026-11-01 00:00';
      },
      'CreatedAt must be an RFC 3339',
    ],
    [
      'a day the month does not have (Date.parse rolls it over to March 1)',
      (f) => {
        f.CreatedAt = '2026-02-30T00:00:00Z';
      },
      'CreatedAt must be an RFC 3339',
    ],
    [
      'hour 24 (Date.parse reads it as the next midnight)',
      (f) => {
        f.LastObservedAt = '2026-11-01T24:00:00.000Z';
      },
      'LastObservedAt must be an RFC 3339',
    ],
    [
      'a region of an unsupported partition',
      (f) => {
        f.Region = 'us-iso-east-1';
        f.ProductArn = 'arn:aws:securityhub:us-iso-east-1:123456789012:product/123456789012/default';
      },
      'Region is not an AWS region name',
    ],
    [
      'UpdatedAt before CreatedAt',
      (f) => {
        f.UpdatedAt = '2020-01-01T00:00:00Z';
      },
      'UpdatedAt must not be before',
    ],
    [
      'bad label',
      (f) => {
        f.Severity.Label = 'SEVERE' as 'HIGH';
      },
      'Severity.Label',
    ],
    [
      'normalized out of range',
      (f) => {
        f.Severity.Normalized = 101;
      },
      'Severity.Normalized',
    ],
    [
      'bad type namespace',
      (f) => {
        f.Types = ['Bogus/Thing'];
      },
      'no valid namespace',
    ],
    [
      'no resources',
      (f) => {
        f.Resources = [];
      },
      'Resources must hold',
    ],
    [
      'too many product fields',
      (f) => {
        f.ProductFields = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
      },
      'more than 50',
    ],
    [
      'long product field value',
      (f) => {
        f.ProductFields = { k: 'v'.repeat(2049) };
      },
      'longer than 2048',
    ],
    [
      'wrong schema version',
      (f) => {
        f.SchemaVersion = '2019';
      },
      'SchemaVersion',
    ],
  ])('rejects %s', (_name, mutate, expected) => {
    const finding = valid();
    mutate(finding);

    const result = validateFinding(finding);

    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.rejection.code).toBe('INVALID_FINDING');
      expect(result.rejection.reason).toContain(expected);
      expect(result.rejection.actionId).toBe('v-1');
    }
  });

  it('rejects a finding over 240 KB as too large', () => {
    const finding = valid();
    finding.ProductFields = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`k${i}`, '🤖'.repeat(1024)]),
    );
    finding.Resources[0] = {
      ...finding.Resources[0],
      Details: {
        Other: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`d${i}`, '🤖'.repeat(512)])),
      },
    } as AsffFinding['Resources'][0];

    const result = validateFinding(finding);

    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.rejection.code).toBe('FINDING_TOO_LARGE');
  });
});

describe('the constants validation trusts without re-checking them', () => {
  const constants: Array<[string, string, number]> = [
    ['ProductName', PRODUCT_NAME, ASFF_LIMITS.productName],
    ['CompanyName', COMPANY_NAME, ASFF_LIMITS.companyName],
    ['Types[]', FINDING_TYPE, 256],
    ['Types[]', ANOMALY_FINDING_TYPE, 256],
    ...PRODUCT_FIELD_KEYS.map((key): [string, string, number] => [
      'ProductFields key',
      key,
      ASFF_LIMITS.productFieldKey,
    ]),
  ];

  it.each(constants)('%s %j passes the string checks', (name, value, max) => {
    expect(textProblem(name, value, max)).toBeUndefined();
  });

  it('the finding types are in ASFF namespaces', () => {
    for (const type of [FINDING_TYPE, ANOMALY_FINDING_TYPE]) {
      expect([
        'Software and Configuration Checks',
        'TTPs',
        'Effects',
        'Unusual Behaviors',
        'Sensitive Data Identifications',
      ]).toContain(type.split('/')[0]);
    }
  });
});
