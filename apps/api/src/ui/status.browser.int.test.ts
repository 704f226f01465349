import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { newId, runs } from '@vsh/db';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '@vsh/testkit';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useHarness } from '../testing/harness.ts';

// The status page in Chromium: a finding a run sends appears without a reload, under the page's CSP.

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/ui', import.meta.url));
const api = useHarness();
let server: ReturnType<typeof serve>;
let origin: string;
let browser: Browser;

beforeAll(async () => {
  origin = await new Promise<string>((resolve) => {
    server = serve({ fetch: api.app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) =>
      resolve(`http://127.0.0.1:${info.port}`),
    );
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('the live status page in a browser', () => {
  it('shows a new run and its finding without a reload, says when it last updated, and breaks no CSP rule', async () => {
    const { tenantId, key } = await api.createTenant('Browser Live Ltd');
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) problems.push(message.text());
    });
    // The browser asks for /favicon.ico by itself; every other answer must be a success.
    page.on('response', (res) => {
      if (res.status() >= 400 && !res.url().endsWith('/favicon.ico'))
        problems.push(`${res.status()} ${res.url()}`);
    });
    await page.goto(`${origin}/ui/login`);
    await page.fill('#key', key);
    await Promise.all([page.waitForURL(/\/ui\//), page.press('#key', 'Enter')]);
    await page.goto(`${origin}/ui/status`);
    await expect.poll(() => page.locator('#live-age').textContent()).toMatch(/Updated/);
    expect(await page.locator('#findings').count()).toBe(0);

    await api.db.insert(runs).values({
      id: newId('run'),
      tenantId,
      status: 'ok',
      startedAt: new Date(Date.now() - 5_000),
      finishedAt: new Date(),
      findingsImported: 1,
      recentFindings: [
        {
          id: 'vaikora-act-first',
          title: 'First risky action',
          severity: 'HIGH',
          time: new Date().toISOString(),
          region: 'us-east-1',
        },
      ],
    });

    await page.locator('tr[data-finding="vaikora-act-first"]').waitFor({ timeout: 15_000 });
    const link = await page.locator('tr[data-finding="vaikora-act-first"] a').getAttribute('href');
    expect(link).toContain('securityhub/home?region=us-east-1#/findings?search=Id%3D');
    expect(await page.locator('#live-age').textContent()).toMatch(/^Updated (just now|\d+ s ago)$/);
    expect(await page.locator('#chart-activity title').first().textContent()).toContain('Findings imported');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'status-live.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });
});
