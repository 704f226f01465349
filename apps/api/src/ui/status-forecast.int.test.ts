import { describe, expect, it } from 'vitest';
import { testBrowser } from '../testing/browser.ts';
import { seedForecastTenant } from '../testing/forecast-seed.ts';
import { useHarness } from '../testing/harness.ts';

const NOW = new Date('2026-12-04T12:00:00.000Z');
const api = useHarness({ clock: () => NOW });

/** The forecast section of a page, or fails. */
function forecastOf(page: string): string {
  const section = /<section class="card" aria-labelledby="forecast-h" id="forecast">[\s\S]*?<\/section>/.exec(
    page,
  );
  expect(section, 'the page has a forecast section').not.toBeNull();
  return section?.[0] ?? '';
}

/** The cells of the forecast row of one destination, tags stripped. */
function rowOf(section: string, destinationId: string): string[] {
  const row = new RegExp(`<tr data-forecast="${destinationId}">([\\s\\S]*?)</tr>`).exec(section)?.[1] ?? '';
  return [...row.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((cell) =>
    (cell[1] ?? '')
      .replace(/<[^>]+>/g, '')
      .replace(/\s+/g, ' ')
      .trim(),
  );
}

describe('the status page cost forecast', () => {
  it("shows each account's findings and dollars a month at the last 7 days' rate, in the live part too", async () => {
    const { tenantId, key } = await api.createTenant();
    const seed = await seedForecastTenant(api.db, tenantId, NOW);
    const browser = testBrowser(api);
    await browser.signIn(key);

    const page = await browser.get('/ui/status');
    const live = await browser.get('/ui/status/live');

    expect(page.status).toBe(200);
    const section = forecastOf(page.text);
    expect(section).toContain("At the last 7 days' rate, for a 30-day month.");
    expect(rowOf(section, seed.old)).toEqual([
      '111111111111',
      'us-east-1, eu-west-1',
      'the last 7 days',
      '60,000',
      '$1.20',
      '$1.80',
    ]);
    expect(rowOf(section, seed.young)).toEqual([
      '222222222222',
      'us-east-1',
      "over the last 27 h, its first run's 24 h look-back included (early estimate)",
      '8,000',
      '$0.00',
      '$0.24',
    ]);
    expect(rowOf(section, seed.idle)).toEqual([
      '333333333333',
      'us-east-1',
      'no run reached it in the last 7 days',
      '0',
      '$0.00',
      '$0.00',
    ]);
    expect(section).toMatch(
      /<tfoot><tr><th scope="row" colspan="3">All accounts<\/th><td class="num" data-findings="68000">68,000<\/td><td class="num" data-usd="1.2">\$1.20<\/td><td class="num">\$2.04<\/td><\/tr><\/tfoot>/,
    );
    expect(live.status).toBe(200);
    expect(forecastOf(live.text)).toBe(section);
  });

  it('says there is nothing to forecast before the first AWS account', async () => {
    const { key } = await api.createTenant();
    const browser = testBrowser(api);
    await browser.signIn(key);

    const page = await browser.get('/ui/status');

    expect(forecastOf(page.text)).toContain(
      '<p class="empty">No AWS account yet, so nothing to forecast.</p>',
    );
  });
});
