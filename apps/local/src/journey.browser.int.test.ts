import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GetFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '@vsh/testkit';
import { pino } from 'pino';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerAdmin } from './customer.ts';
import { type AnyLocalStack, startLocalStack } from './stack.ts';

// Kept as CI artifacts (test-artifacts/ is gitignored).
const ARTIFACTS = resolve(import.meta.dirname, '../../../test-artifacts/journey');
const ACCOUNT_X = '111122223333';
const ACCOUNT_Y = '444455556666';
const REGION = 'us-east-1';

let stack: AnyLocalStack;
let browser: Browser;
const temp: string[] = [];

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The agents each finding in a customer account's local Security Hub names (Resources: vaikora:agent/<id>). */
async function agentsInAccount(accountId: string): Promise<string[]> {
  const credentials = await customerAdmin(stack.motoEndpoint, accountId, REGION);
  const hub = new SecurityHubClient({ endpoint: stack.awsEndpoint, region: REGION, credentials });
  try {
    const agents: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await hub.send(
        new GetFindingsCommand({ MaxResults: 100, ...(NextToken ? { NextToken } : {}) }),
      );
      for (const finding of page.Findings ?? []) {
        const agent = finding.Resources?.find((r) => r.Id?.startsWith('vaikora:agent/'))?.Id;
        agents.push(agent?.slice('vaikora:agent/'.length) ?? '(none)');
      }
      NextToken = page.NextToken;
    } while (NextToken);
    return agents;
  } finally {
    hub.destroy();
  }
}

/** Adds an AWS account routed to one agent, deploys its role with the local button, and waits for "verified". */
async function addAccount(page: Page, accountId: string, agent: string, step: string): Promise<void> {
  await page.goto(`${stack.apiUrl}/ui/onboarding`);
  await page.getByLabel(/AWS account id/).fill(accountId);
  await page.getByLabel(/Regions/).fill(REGION);
  await page.getByLabel('Only the agents checked below').check();
  await page.locator('#routing').getByLabel(agent, { exact: true }).check();
  await shot(page, `${step}-add-account`);
  await Promise.all([
    page.waitForURL(/\/ui\/onboarding\/destinations\/dst_/),
    page.getByRole('button', { name: 'Add account' }).click(),
  ]);
  await Promise.all([
    page.waitForURL(/#verification$/, { timeout: 90_000 }),
    page.getByRole('button', { name: 'Deploy the role into local AWS and verify' }).click(),
  ]);
  const result = page.locator('#verification-result');
  expect(await result.textContent()).toContain('All checks passed');
  expect(await page.locator('#routing-h + p').textContent()).toContain(agent);
  await shot(page, `${step}-verified`);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'vsh-journey-stack-'));
  temp.push(dataDir);
  [stack, browser] = await Promise.all([
    startLocalStack({ dataDir, apiPort: 0, logger: pino({ level: 'silent' }), say: () => {}, demo: false }),
    chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS] }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

describe('the customer journey in Chromium against an empty local stack', () => {
  it('invites a tenant, signs in by link, connects Vaikora and two routed accounts, and sees findings arrive live', async () => {
    const [agentX, agentY] = stack.vaikora.agents;
    if (agentX === undefined || agentY === undefined) throw new Error('the simulator needs two agents');

    // The operator invites the tenant and copies the one-time link.
    const operator = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await operator.goto(`${stack.apiUrl}/ui/login`);
    await operator.getByLabel('API key').fill(stack.operatorKey);
    await Promise.all([
      operator.waitForURL(/\/ui\/operator$/),
      operator.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    await shot(operator, '01-operator');
    await Promise.all([
      operator.waitForURL(/\/ui\/operator\/tenants\/new$/),
      operator.getByRole('link', { name: 'Invite a tenant' }).click(),
    ]);
    await operator.getByLabel(/^Name/).fill('Journey Co');
    await shot(operator, '02-invite');
    await Promise.all([
      operator.waitForURL(/\/ui\/operator\/tenants$/),
      operator.getByRole('button', { name: 'Create tenant and sign-in link' }).click(),
    ]);
    const link = (await operator.locator('#sign-in-link').textContent()) ?? '';
    const tenantKey = (await operator.locator('#api-key').textContent()) ?? '';
    const tenantId = (await operator.locator('#tenant-id').textContent()) ?? '';
    expect(link).toMatch(/\/ui\/login\/link\?token=/);
    await shot(operator, '03-invited');
    await operator.context().close();

    // The customer opens the link in a browser of their own.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(link);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Continue as Journey Co');
    await shot(page, '04-link');
    await Promise.all([
      page.waitForURL(/\/ui\/start$/),
      page.getByRole('button', { name: 'Continue as Journey Co' }).click(),
    ]);
    expect(await page.locator('[data-step="vaikora"]').getAttribute('data-state')).toBe('todo');
    await shot(page, '05-checklist');

    // Vaikora: test the connection against the simulator, see the agents, save.
    await Promise.all([
      page.waitForURL(/\/ui\/vaikora$/),
      page.getByRole('link', { name: 'Connect Vaikora' }).click(),
    ]);
    await page.getByLabel('Vaikora API key').fill(stack.vaikora.apiKey);
    await page.getByLabel(/^Base URL/).fill(stack.vaikora.baseUrl);
    await page.getByRole('button', { name: 'Test connection' }).click();
    await expect
      .poll(() => page.locator('#test-result').textContent(), { timeout: 20_000 })
      .toContain('agents found');
    for (const agent of stack.vaikora.agents) {
      expect(await page.locator('#vaikora-test').getByLabel(agent, { exact: true }).isChecked()).toBe(true);
    }
    await page.getByLabel('Minimum risk level').selectOption('low');
    // Long enough that no scheduled run comes between the accounts and the status page: "Run now" does.
    await page.getByLabel(/^Poll interval/).fill('3600');
    await shot(page, '06-vaikora-tested');
    await Promise.all([page.waitForURL(/saved=1$/), page.getByRole('button', { name: 'Save' }).click()]);
    await shot(page, '07-vaikora-saved');

    // Two accounts, each routed to one agent, each role deployed with the local button.
    await addAccount(page, ACCOUNT_X, agentX, '08-account-x');
    await addAccount(page, ACCOUNT_Y, agentY, '09-account-y');
    await page.goto(`${stack.apiUrl}/ui/start`);
    expect(await page.locator('[data-step="aws"]').getAttribute('data-state')).toBe('done');
    await shot(page, '10-checklist');

    // The status page: a run starts, and its findings appear without a reload.
    await page.goto(`${stack.apiUrl}/ui/status`);
    await page.evaluate('window.__loaded = 443');
    const before = await page.locator('#findings tbody tr').count();
    const ran = await fetch(`${stack.apiUrl}/v1/tenants/${tenantId}/run-now`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenantKey}` },
    });
    expect(ran.status).toBeLessThan(300);
    await expect
      .poll(() => page.locator('#findings tbody tr').count(), { timeout: 60_000, interval: 1_000 })
      .toBeGreaterThan(before);
    expect(await page.evaluate('window.__loaded')).toBe(443);
    await shot(page, '11-status-live');

    // Each account's Security Hub holds only its agent's findings.
    await expect
      .poll(async () => (await agentsInAccount(ACCOUNT_Y)).length, { timeout: 60_000 })
      .toBeGreaterThan(0);
    await expect
      .poll(async () => (await agentsInAccount(ACCOUNT_X)).length, { timeout: 60_000 })
      .toBeGreaterThan(0);
    // No account holds another configured agent's findings (ADR 0098). The simulator's hostile records
    // may carry junk in agent_id; the stream that read them (the filter matched) delivers them.
    const inX = await agentsInAccount(ACCOUNT_X);
    const inY = await agentsInAccount(ACCOUNT_Y);
    expect(inX).toContain(agentX);
    expect(inY).toContain(agentY);
    for (const agent of stack.vaikora.agents) {
      if (agent !== agentX) expect(inX).not.toContain(agent);
      if (agent !== agentY) expect(inY).not.toContain(agent);
    }
    await context.close();
  });
});
