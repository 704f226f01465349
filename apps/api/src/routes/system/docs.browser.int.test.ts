import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '@vsh/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaselessApp } from '../../testing/operations.ts';

// Kept as CI artifacts (test-artifacts/ is gitignored), next to the other browser tests' screenshots.
const ARTIFACTS = fileURLToPath(new URL('../../../../../test-artifacts/ui', import.meta.url));

// The calls tried here (/health, and a /v1 call refused for its key) never reach the database.
const app = databaselessApp();

let server: ReturnType<typeof serve>;
let origin: string;
let browser: Browser;
let page: Page;
const violations: string[] = [];
const pageErrors: string[] = [];
const otherOrigins: string[] = [];

beforeAll(async () => {
  origin = await new Promise<string>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) =>
      resolve(`http://127.0.0.1:${info.port}`),
    );
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  page.on('request', (request) => {
    if (!request.url().startsWith(origin) && !request.url().startsWith('data:'))
      otherOrigins.push(request.url());
  });
  await page.goto(`${origin}/docs`);
  await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('the API reference viewer in Chromium', () => {
  it('renders every operation under the page CSP, with no violation, no error and no other origin', async () => {
    const documented = (await (await fetch(`${origin}/openapi.json`)).json()) as {
      paths: Record<string, object>;
    };
    const expected = Object.values(documented.paths).reduce((sum, item) => sum + Object.keys(item).length, 0);

    expect(await page.locator('.opblock').count()).toBe(expected);
    expect(violations).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(otherOrigins).toEqual([]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'docs.png') });
  });

  it('tries a public call against this origin', async () => {
    const operation = page.locator('#operations-system-getHealth');
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    await operation.getByRole('button', { name: 'Execute' }).click();

    await expect
      .poll(() => operation.locator('.live-responses-table tbody .response-col_status').first().textContent())
      .toContain('200');
  });

  it('sends the key given in Authorize as a bearer token', async () => {
    const key = 'vsh_not-a-key-of-this-api';
    await page
      .getByRole('button', { name: /Authorize/ })
      .first()
      .click();
    const dialog = page.locator('.modal-ux');
    await dialog.locator('input').first().fill(key);
    await dialog.locator('button.authorize').click();
    await dialog.locator('button.btn-done').click();
    const operation = page.locator('#operations-tenants-listTenants');
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();

    const [request] = await Promise.all([
      page.waitForRequest((candidate) => candidate.url().startsWith(`${origin}/v1/tenants`)),
      operation.getByRole('button', { name: 'Execute' }).click(),
    ]);

    expect(request.headers().authorization).toBe(`Bearer ${key}`);
    await expect
      .poll(() => operation.locator('.live-responses-table tbody .response-col_status').first().textContent())
      .toContain('401');
  });

  it('leads from the landing page to the reference, with no CSP violation there either', async () => {
    const before = violations.length;
    await page.goto(`${origin}/`);
    await page.screenshot({ path: join(ARTIFACTS, 'landing.png') });

    await Promise.all([
      page.waitForURL(`${origin}/docs`),
      page.getByRole('link', { name: 'API reference' }).first().click(),
    ]);

    expect(violations.slice(before)).toEqual([]);
  });
});
