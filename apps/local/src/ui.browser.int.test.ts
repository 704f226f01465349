import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '@vsh/testkit';
import { pino } from 'pino';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployCustomerRole } from './customer.ts';
import { LOCAL_DATA443_ACCOUNT_ID, type LocalStack, startLocalStack } from './stack.ts';

// Kept as CI artifacts (test-artifacts/ is gitignored).
const ARTIFACTS = resolve(import.meta.dirname, '../../../test-artifacts/ui');
const NEW_ACCOUNT = '333333333333';
const NEW_REGION = 'us-west-2';

let stack: LocalStack;
let context: BrowserContext;
let page: Page;
const temp: string[] = [];

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Signs in from a clean cookie jar, so no test depends on the session another left behind. */
async function signIn(key: string): Promise<void> {
  await context.clearCookies();
  await page.goto(`${stack.apiUrl}/ui/login`);
  await page.getByLabel('API key').fill(key);
  await Promise.all([
    page.waitForURL(/\/ui\/(status|operator|start)/),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'vsh-ui-stack-'));
  const profile = mkdtempSync(join(tmpdir(), 'vsh-ui-chromium-'));
  temp.push(dataDir, profile);
  [stack, context] = await Promise.all([
    startLocalStack({ dataDir, apiPort: 0, logger: pino({ level: 'silent' }), say: () => {} }),
    chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: { width: 1280, height: 900 },
    }),
  ]);
  page = context.pages()[0] ?? (await context.newPage());
});

afterAll(async () => {
  await context?.close();
  await stack?.stop();
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

describe('web pages in Chromium against the local stack', () => {
  it('onboards a second AWS account end to end: add, deploy the role as the customer, verify by keyboard', async () => {
    await signIn(stack.demo.tenantApiKey);
    await page.goto(`${stack.apiUrl}/ui/onboarding`);
    await page.getByLabel(/AWS account id/).fill(NEW_ACCOUNT);
    await page.getByLabel(/Regions/).fill(NEW_REGION);
    await Promise.all([
      page.waitForURL(/\/ui\/onboarding\/destinations\/dst_/),
      page.getByRole('button', { name: 'Add account' }).click(),
    ]);
    await shot('onboarding-destination');

    const externalId = (await page.locator('#external-id').textContent()) ?? '';
    const stackName = (await page.locator('#stack-name').textContent()) ?? '';
    const parameters: Record<string, string> = {};
    for (const cell of await page.locator('#parameters code[data-param]').all()) {
      parameters[(await cell.getAttribute('data-param')) ?? ''] = (await cell.textContent()) ?? '';
    }
    expect(Object.values(parameters)).toContain(externalId);
    // The local stack publishes no template to S3, so no quick-create link: the template comes from the API.
    expect(await page.locator('#launch-stack').count()).toBe(0);
    expect(await page.locator('#launch-stack-unavailable').textContent()).toContain('not available here');
    const download = (await page.locator('#template-download').getAttribute('href')) ?? '';
    expect(download).toBe(`${stack.apiUrl}/templates/vaikora-securityhub-role.yaml`);
    expect((await fetch(download)).status).toBe(200);

    const roleArn = await deployCustomerRole({
      motoEndpoint: stack.motoEndpoint,
      accountId: NEW_ACCOUNT,
      region: NEW_REGION,
      data443AccountId: LOCAL_DATA443_ACCOUNT_ID,
      stackName,
      parameters,
    });
    await page.locator('#roleArn').fill(roleArn);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.id')).toBe('verify');
    await Promise.all([page.waitForURL(/#verification$/, { timeout: 90_000 }), page.keyboard.press('Enter')]);

    const result = page.locator('#verification-result');
    await expect.poll(() => result.textContent()).toContain('All checks passed');
    const checks = await result.locator('li[data-check]').allTextContents();
    expect(checks.length).toBeGreaterThanOrEqual(3);
    for (const check of checks) expect(check).toContain('Passed');
    await shot('onboarding-verified');
    await page.goto(`${stack.apiUrl}/ui/status`);
    expect(await page.locator('#destinations').textContent()).toMatch(
      new RegExp(`${NEW_ACCOUNT}.*(Verified|Active)`, 's'),
    );
  });

  it('shows a run with the findings it sent on the status page after "Run now"', async () => {
    await signIn(stack.demo.tenantApiKey);
    await page.goto(`${stack.apiUrl}/ui/status`);
    await Promise.all([page.waitForURL(/ran=1/), page.getByRole('button', { name: 'Run now' }).click()]);

    await expect
      .poll(
        async () => {
          await page.reload();
          return page.locator('#findings tbody tr').count();
        },
        { timeout: 60_000, interval: 1_000 },
      )
      .toBeGreaterThan(0);
    expect(await page.locator('#runs tbody tr').count()).toBeGreaterThan(0);
    await shot('status');
  });

  it('signs out and lets the operator see the demo tenant on the overview', async () => {
    await signIn(stack.demo.tenantApiKey);
    await Promise.all([
      page.waitForURL(/\/ui\/login/),
      page.getByRole('button', { name: 'Sign out' }).click(),
    ]);
    expect(await page.locator('main [role=status]').textContent()).toContain('You are signed out');
    await shot('login');
    await signIn(stack.operatorKey);

    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('All tenants');
    const row = page.locator(`#tenants tr[data-tenant="${stack.demo.tenantId}"]`);
    expect(await row.textContent()).toContain('Demo Co');
    await shot('operator');
  });
});
