// What a destination's findings will cost in Security Hub per month at its recent rate (ADR 0117). Pure:
// the forecast service reads the inputs from the runs' per-destination stats; the prices are constants.

/**
 * Security Hub CSPM (the ASFF API, `BatchImportFindings`) finding ingestion, as listed for us-east-1,
 * checked 2026-12-04: the first 10,000 finding ingestion events per account per region per month are free,
 * then $0.00003 per event; every `BatchImportFindings` entry Security Hub takes is one event, an update of
 * a finding already there included. Sources: https://aws.amazon.com/security-hub/cspm/pricing/ (the
 * official page, not readable from this environment) as quoted on
 * https://aws-gcr-wwso-security.gitbook.io/an-quan-zui-jia-shi-jian/an-quan-chan-pin-cheng-ben-gu-suan/an-quan-he-gui-chi-xu-jian-ce-he-zi-dong-xiu-fu-fei-yong
 * ("First 10,000 events/account/region/month is free ... Over 10,000 events/account/region/month costs
 * $0.00003 per event"). Check them before quoting a figure; other regions may differ.
 */
export const SECURITY_HUB_INGESTION_PRICE = {
  freeEventsPerAccountRegionMonth: 10_000,
  /** $0.00003 per event, kept as thousandths of a cent (3) so the arithmetic stays in integers. */
  milliCentsPerEvent: 3,
  source: 'https://aws.amazon.com/security-hub/cspm/pricing/',
  checkedOn: '2026-12-04',
} as const;

/** The recent window the rate is measured over (ADR 0117). */
export const FORECAST_WINDOW_DAYS = 7;

/** A billing month as the forecast counts it (30 days, as the worker's cost model does). */
const FORECAST_MONTH_HOURS = 30 * 24;

/**
 * The shortest history a rate is extrapolated from: a destination one run old is measured as if that run
 * covered an hour, so one run's handful of findings does not read as a month of thousands.
 */
export const MIN_OBSERVED_HOURS = 1;

const HOUR_MS = 3_600_000;

/** What the window's runs did for one destination, as the forecast statement reads it. */
export interface ObservedImports {
  /** Findings Security Hub took for this destination in the window, every region summed. */
  imported: number;
  /** Runs of the window that reached this destination. */
  runs: number;
  /** Where the measurement starts (the window's start, or the destination's first run when younger); null without runs. */
  observedFromMs: number | null;
  nowMs: number;
  /** The destination's regions: every finding is imported once into each, and each bills on its own. */
  regions: number;
}

/** How far the rate can be trusted: no run to measure, a younger history than the window, or the whole window. */
type ForecastBasis = 'none' | 'partial' | 'window';

/** One destination's month at its recent rate, and what Security Hub bills for it. */
export interface IngestionForecast {
  basis: ForecastBasis;
  /** Hours the rate is measured over (at least MIN_OBSERVED_HOURS once there is a run, 0 without). */
  observedHours: number;
  /** Finding ingestion events per month, every region summed (whole events). */
  findingsPerMonth: number;
  /** The same for one region (the findings are the same in each). */
  findingsPerRegionPerMonth: number;
  /** Events above the free tier of each region. */
  billableEventsPerMonth: number;
  /** USD per month, the free tier applied to each region (the connector alone in the account). */
  usdPerMonth: number;
  /** USD per month if other sources already use the account's free tier: every event billed. */
  usdPerMonthWithoutFreeTier: number;
}

/** USD, to the cent (half up), of `events` ingestion events: exact for any whole number of events. */
export function ingestionUsd(events: number): number {
  if (!Number.isInteger(events) || events < 0) {
    throw new RangeError(`events must be a whole number, 0 or more, got ${events}`);
  }
  const milliCents = BigInt(events) * BigInt(SECURITY_HUB_INGESTION_PRICE.milliCentsPerEvent);
  const cents = (milliCents + 500n) / 1000n;
  return Number(cents) / 100;
}

/**
 * A destination's monthly findings at the rate it imported them since `observedFromMs`, and Security Hub's
 * bill for them: the free tier applies per region, so N regions have N free tiers.
 */
export function forecastIngestion(input: ObservedImports): IngestionForecast {
  const { imported, runs, observedFromMs, nowMs, regions } = input;
  if (!Number.isInteger(regions) || regions < 1)
    throw new RangeError(`regions must be 1 or more, got ${regions}`);
  if (!(imported >= 0) || !Number.isFinite(imported))
    throw new RangeError(`imported must be 0 or more, got ${imported}`);
  if (runs === 0 || observedFromMs === null) {
    return {
      basis: 'none',
      observedHours: 0,
      findingsPerMonth: 0,
      findingsPerRegionPerMonth: 0,
      billableEventsPerMonth: 0,
      usdPerMonth: 0,
      usdPerMonthWithoutFreeTier: 0,
    };
  }
  const windowStartMs = nowMs - FORECAST_WINDOW_DAYS * 24 * HOUR_MS;
  const observedHours = Math.max(MIN_OBSERVED_HOURS, (nowMs - observedFromMs) / HOUR_MS);
  const findingsPerMonth = Math.round((imported * FORECAST_MONTH_HOURS) / observedHours);
  // The streams of a destination are one per agent and region (ADR 0098): each region takes the same findings.
  const findingsPerRegionPerMonth = Math.round(findingsPerMonth / regions);
  const billableEventsPerMonth = Math.max(
    0,
    findingsPerMonth - regions * SECURITY_HUB_INGESTION_PRICE.freeEventsPerAccountRegionMonth,
  );
  return {
    basis: observedFromMs > windowStartMs ? 'partial' : 'window',
    observedHours: Math.round(observedHours * 100) / 100,
    findingsPerMonth,
    findingsPerRegionPerMonth,
    billableEventsPerMonth,
    usdPerMonth: ingestionUsd(billableEventsPerMonth),
    usdPerMonthWithoutFreeTier: ingestionUsd(findingsPerMonth),
  };
}
