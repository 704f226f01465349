import { describe, expect, it } from 'vitest';
import {
  FORECAST_WINDOW_DAYS,
  forecastIngestion,
  ingestionUsd,
  MIN_OBSERVED_HOURS,
  type ObservedImports,
  SECURITY_HUB_INGESTION_PRICE,
} from './forecast-model.ts';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-12-04T12:00:00.000Z');
const WINDOW_START = NOW - FORECAST_WINDOW_DAYS * 24 * HOUR;

/** A whole window's imports for one region unless told otherwise. */
const observed = (over: Partial<ObservedImports>): ObservedImports => ({
  imported: 0,
  runs: 1,
  observedFromMs: WINDOW_START,
  nowMs: NOW,
  regions: 1,
  ...over,
});

describe('ingestionUsd', () => {
  it.each([
    [0, 0],
    [1, 0],
    [166, 0],
    [167, 0.01],
    [1_000, 0.03],
    [10_000, 0.3],
    [1_000_000, 30],
    [123_456_789, 3703.7],
  ])('%d events cost $%d', (events, usd) => {
    expect(ingestionUsd(events)).toBe(usd);
  });

  it('stays exact past the range where floating point loses cents', () => {
    expect(ingestionUsd(Number.MAX_SAFE_INTEGER)).toBe(270_215_977_642.23);
    expect(ingestionUsd(1e18)).toBe(3e13);
  });

  it('refuses a fraction or a negative count', () => {
    expect(() => ingestionUsd(1.5)).toThrow(RangeError);
    expect(() => ingestionUsd(-1)).toThrow(RangeError);
    expect(() => ingestionUsd(Number.NaN)).toThrow(RangeError);
  });
});

describe('forecastIngestion', () => {
  it('forecasts nothing, on no basis, for a destination no run reached', () => {
    expect(forecastIngestion(observed({ runs: 0, observedFromMs: null }))).toEqual({
      basis: 'none',
      observedHours: 0,
      findingsPerMonth: 0,
      findingsPerRegionPerMonth: 0,
      billableEventsPerMonth: 0,
      usdPerMonth: 0,
      usdPerMonthWithoutFreeTier: 0,
    });
  });

  it('scales a whole window to a 30-day month', () => {
    // 7,000 findings in 7 days = 1,000 a day = 30,000 a month; 20,000 above the free tier.
    const forecast = forecastIngestion(observed({ imported: 7_000, runs: 2_016 }));

    expect(forecast).toEqual({
      basis: 'window',
      observedHours: 168,
      findingsPerMonth: 30_000,
      findingsPerRegionPerMonth: 30_000,
      billableEventsPerMonth: 20_000,
      usdPerMonth: 0.6,
      usdPerMonthWithoutFreeTier: 0.9,
    });
  });

  it('bills nothing up to the free tier, and from the first event above it', () => {
    // Three days of history: a month is ten times what they imported.
    const threeDays = (imported: number) =>
      forecastIngestion(observed({ imported, observedFromMs: NOW - 72 * HOUR }));

    const at = threeDays(1_000);
    const above = threeDays(1_001);
    const aCent = threeDays(1_017);

    expect([at.findingsPerMonth, at.billableEventsPerMonth, at.usdPerMonth]).toEqual([10_000, 0, 0]);
    expect(at.usdPerMonthWithoutFreeTier).toBe(0.3);
    // 10 events above the tier cost $0.0003: under half a cent, shown as $0.
    expect([above.findingsPerMonth, above.billableEventsPerMonth, above.usdPerMonth]).toEqual([
      10_010, 10, 0,
    ]);
    expect([aCent.billableEventsPerMonth, aCent.usdPerMonth]).toEqual([170, 0.01]);
  });

  it('gives each region its own free tier: the imported count already holds every region', () => {
    // 3 regions took 21,000 findings each in the week (63,000 imported): 90,000 a month per region.
    const forecast = forecastIngestion(observed({ imported: 63_000, regions: 3 }));

    expect(forecast.findingsPerMonth).toBe(270_000);
    expect(forecast.findingsPerRegionPerMonth).toBe(90_000);
    expect(forecast.billableEventsPerMonth).toBe(
      270_000 - 3 * SECURITY_HUB_INGESTION_PRICE.freeEventsPerAccountRegionMonth,
    );
    expect(forecast.usdPerMonth).toBe(7.2);
    expect(forecast.usdPerMonthWithoutFreeTier).toBe(8.1);
  });

  it('bills nothing when every region stays inside its free tier, though the sum is above one', () => {
    const forecast = forecastIngestion(observed({ imported: 4_200, regions: 2 }));

    expect(forecast.findingsPerMonth).toBe(18_000);
    expect(forecast.billableEventsPerMonth).toBe(0);
    expect(forecast.usdPerMonth).toBe(0);
  });

  it('measures a brand-new destination from its first run, as a partial basis', () => {
    // First run 3 hours ago, 300 findings since: 100 an hour, 72,000 a month.
    const forecast = forecastIngestion(observed({ imported: 300, runs: 36, observedFromMs: NOW - 3 * HOUR }));

    expect(forecast).toEqual({
      basis: 'partial',
      observedHours: 3,
      findingsPerMonth: 72_000,
      findingsPerRegionPerMonth: 72_000,
      billableEventsPerMonth: 62_000,
      usdPerMonth: 1.86,
      usdPerMonthWithoutFreeTier: 2.16,
    });
  });

  it('measures a destination one run old as if that run covered an hour', () => {
    const forecast = forecastIngestion(observed({ imported: 12, runs: 1, observedFromMs: NOW - 60_000 }));

    expect(forecast.observedHours).toBe(MIN_OBSERVED_HOURS);
    expect(forecast.findingsPerMonth).toBe(12 * 720);
    expect(forecast.basis).toBe('partial');
  });

  it('keeps huge volumes exact to the cent', () => {
    // 10 million findings a day in each of 17 regions for the week.
    const imported = 10_000_000 * 7 * 17;
    const forecast = forecastIngestion(observed({ imported, regions: 17 }));

    expect(forecast.findingsPerMonth).toBe(5_100_000_000);
    expect(forecast.billableEventsPerMonth).toBe(5_100_000_000 - 170_000);
    expect(forecast.usdPerMonth).toBe(152_994.9);
    expect(forecast.usdPerMonthWithoutFreeTier).toBe(153_000);
  });

  it('refuses a destination without regions and a negative count', () => {
    expect(() => forecastIngestion(observed({ regions: 0 }))).toThrow(RangeError);
    expect(() => forecastIngestion(observed({ imported: -1 }))).toThrow(RangeError);
  });
});
