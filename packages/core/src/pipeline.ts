import { parseAction, type VaikoraAction } from './action.ts';
import { qualifies, type Thresholds } from './filter.ts';
import { type MapContext, mapAction } from './map.ts';
import type { Rejection } from './rejection.ts';
import { checkFinding, type ValidFinding } from './validate.ts';

/** A finding ready to import, with the action it came from (for cursors and run records). */
export interface PreparedFinding extends ValidFinding {
  readonly action: VaikoraAction;
}

/** The outcome of one record through parse → filter → map → validate. */
export type RecordOutcome =
  | { kind: 'finding'; value: PreparedFinding }
  | { kind: 'skipped'; action: VaikoraAction }
  | { kind: 'rejected'; rejection: Rejection };

export interface PrepareContext extends MapContext {
  readonly thresholds: Thresholds;
}

/** Takes one raw record through parsing, the tenant's filter, mapping and validation. Never throws on data. */
export function prepareRecord(raw: unknown, ctx: PrepareContext): RecordOutcome {
  const parsed = parseAction(raw);
  if (!parsed.ok) return { kind: 'rejected', rejection: parsed.rejection };
  return prepareAction(parsed.action, ctx, raw);
}

/** Filter, map and validate an already-parsed action. */
export function prepareAction(action: VaikoraAction, ctx: PrepareContext, raw?: unknown): RecordOutcome {
  if (!qualifies(action, ctx.thresholds)) return { kind: 'skipped', action };
  const finding = mapAction(action, ctx);
  const checked = checkFinding(finding);
  if (typeof checked !== 'number') {
    return { kind: 'rejected', rejection: raw === undefined ? checked : { ...checked, raw } };
  }
  return { kind: 'finding', value: { finding, bytes: checked, action } };
}

export interface PreparedRecords {
  readonly findings: PreparedFinding[];
  readonly skipped: VaikoraAction[];
  readonly rejections: Rejection[];
  readonly read: number;
}

/** Prepares many records, keeping order; rejections and skips are data, never exceptions. */
export function prepareRecords(raws: Iterable<unknown>, ctx: PrepareContext): PreparedRecords {
  const findings: PreparedFinding[] = [];
  const skipped: VaikoraAction[] = [];
  const rejections: Rejection[] = [];
  let read = 0;
  for (const raw of raws) {
    read++;
    const outcome = prepareRecord(raw, ctx);
    if (outcome.kind === 'finding') findings.push(outcome.value);
    else if (outcome.kind === 'skipped') skipped.push(outcome.action);
    else rejections.push(outcome.rejection);
  }
  return { findings, skipped, rejections, read };
}
