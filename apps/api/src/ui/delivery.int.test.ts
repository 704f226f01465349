import { awsDestinations } from '@vsh/db';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { csrfOf, testBrowser } from '../testing/browser.ts';
import { passingVerifier, useHarness } from '../testing/harness.ts';
import type { PartnerVerifyInput, VerificationResult } from '../verify/checks.ts';

// How findings arrive, chosen on the web pages (ADR 0121, 0122): the add form's delivery radios, and an
// account page that matches it (no role for the partner integration; the lake's grant for Security Lake).

const PRODUCT = { accountId: '999988887777', name: 'data443/vaikora' };
const partnerCalls: PartnerVerifyInput[] = [];
const verifier = {
  ...passingVerifier,
  async verifyPartner(input: PartnerVerifyInput): Promise<VerificationResult> {
    partnerCalls.push(input);
    return {
      ok: false,
      checks: input.regions.map((region) => ({
        name: 'PARTNER_PRODUCT' as const,
        ok: false,
        code: 'PRODUCT_NOT_ENABLED' as const,
        region,
        message: `Security Hub in ${region} does not accept findings from the product`,
        fix: `in Security Hub (${region}), Integrations, accept findings from Data443 Vaikora`,
      })),
    };
  },
};

describe('web pages: how findings arrive, in a deployment that offers the partner integration', () => {
  const api = useHarness({
    verifier,
    config: {
      customerTemplateUrl: undefined,
      publicBaseUrl: 'http://127.0.0.1:8787',
      partnerProduct: PRODUCT,
    },
  });

  it('adds an account as the Data443 Vaikora integration: accept commands per region, verify without a role', async () => {
    const { tenantId, key } = await api.createTenant('Partner Co');
    const b = testBrowser(api);
    await b.signIn(key);
    const list = await b.get('/ui/onboarding');
    const csrf = csrfOf(list.text);

    const added = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '555555555555',
      regions: 'us-east-1, eu-west-1',
      routing: 'all',
      delivery: 'partner',
    });
    const path = added.headers.get('location') ?? '';
    const page = await b.get(path);
    const verified = await b.post(`${path}/verify`, { csrf });
    const after = await b.get(verified.headers.get('location') ?? '');

    expect(list.text).toContain('id="delivery-partner"');
    expect(added.status).toBe(303);
    const [row] = await api.db.select().from(awsDestinations).where(eq(awsDestinations.tenantId, tenantId));
    expect(row?.delivery).toBe('partner');
    expect(page.text).toContain('Accept the Data443 Vaikora integration');
    expect(page.text).toContain(
      'aws securityhub enable-import-findings-for-product --product-arn arn:aws:securityhub:eu-west-1:999988887777:product/data443/vaikora --region eu-west-1',
    );
    expect(page.text).not.toContain('id="roleArn"');
    expect(verified.status).toBe(303);
    expect(partnerCalls.map((call) => [call.accountId, call.regions])).toEqual([
      ['555555555555', ['us-east-1', 'eu-west-1']],
    ]);
    expect(after.text).toContain('Security Hub accepts findings from the Data443 Vaikora integration');
    expect(after.text).toContain('accept findings from Data443 Vaikora');
  });

  it('adds a Security Lake account: the lake folder and the S3 grant on its page; a bad bucket is named on the form', async () => {
    const { key } = await api.createTenant('Lake Co');
    const b = testBrowser(api);
    await b.signIn(key);
    const csrf = csrfOf((await b.get('/ui/onboarding')).text);

    const refused = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '666666666666',
      regions: 'us-east-1',
      routing: 'all',
      delivery: 'security_lake',
      lakeBucket: 'Not A Bucket',
      lakeSource: 'vaikora',
    });
    const added = await b.post('/ui/onboarding/destinations', {
      csrf,
      accountId: '666666666666',
      regions: 'us-east-1',
      routing: 'all',
      delivery: 'security_lake',
      lakeBucket: 'aws-security-data-lake-us-east-1-abc123',
      lakeSource: 'vaikora',
    });
    const page = await b.get(added.headers.get('location') ?? '');

    expect(refused.status).toBe(400);
    expect(refused.text).toContain('Security Lake bucket: must be an S3 bucket name');
    expect(refused.text).toMatch(/id="delivery-security_lake" name="delivery" value="security_lake" checked/);
    expect(added.status).toBe(303);
    expect(page.text).toContain('s3://aws-security-data-lake-us-east-1-abc123/ext/vaikora/');
    expect(page.text).toContain('arn:aws:s3:::aws-security-data-lake-us-east-1-abc123/ext/vaikora/*');
    expect(page.text).toContain('id="roleArn"');
    expect(page.text).not.toContain('id="heartbeat"');
  });
});

describe('web pages: how findings arrive, where the partner integration is not offered', () => {
  const api = useHarness({
    config: { customerTemplateUrl: undefined, publicBaseUrl: 'http://127.0.0.1:8787' },
  });

  it('offers the role and Security Lake only', async () => {
    const { key } = await api.createTenant('Plain Co');
    const b = testBrowser(api);
    await b.signIn(key);

    const list = await b.get('/ui/onboarding');

    expect(list.text).toContain('id="delivery-role"');
    expect(list.text).toContain('id="delivery-security_lake"');
    expect(list.text).not.toContain('id="delivery-partner"');
  });
});
