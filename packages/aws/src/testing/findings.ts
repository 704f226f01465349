import { type Destination, type PreparedFinding, prepareRecords } from '@vsh/core';
import { generateActions } from '@vsh/fixtures';

export interface MakeFindingsOptions {
  readonly destination: Destination;
  readonly count: number;
  readonly seed?: number;
  /** Keeps ids of different tests and streams apart. */
  readonly idPrefix?: string;
  readonly now?: string;
}

/** Valid findings for tests and benchmarks: generated Vaikora actions through core's pipeline, all kept. */
export function makeFindings(options: MakeFindingsOptions): PreparedFinding[] {
  const raws = generateActions({
    seed: options.seed ?? 1,
    count: options.count,
    idPrefix: options.idPrefix ?? 'act',
  });
  const { findings, rejections } = prepareRecords(raws, {
    destination: options.destination,
    now: options.now ?? '2026-12-01T00:00:00.000Z',
    thresholds: { minRiskLevel: 'low', minRiskScore: 0, includeAnomalies: true, includeThreats: true },
  });
  if (findings.length !== options.count) {
    throw new Error(
      `expected ${options.count} findings, got ${findings.length} (${rejections.length} rejected)`,
    );
  }
  return findings;
}
