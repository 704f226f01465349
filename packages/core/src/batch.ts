import { ASFF_LIMITS } from './asff.ts';
import type { ValidFinding } from './validate.ts';

export interface BatchLimits {
  readonly maxFindings: number;
  readonly maxBytes: number;
}

/** Security Hub's BatchImportFindings limits: 100 findings and 6 MB per request. */
export const DEFAULT_BATCH_LIMITS: BatchLimits = {
  maxFindings: ASFF_LIMITS.findingsPerRequest,
  maxBytes: ASFF_LIMITS.requestBytes,
};

// The request body is {"Findings":[f1,f2,...]}: 14 bytes of envelope plus one comma between findings.
const ENVELOPE_BYTES = '{"Findings":[]}'.length;

/**
 * Splits findings into request-sized batches, keeping their order: at most `maxFindings` per batch
 * and at most `maxBytes` of serialized request body. Each finding must already be validated
 * (so none is larger than a request on its own).
 */
export function batchFindings<T extends ValidFinding>(
  findings: readonly T[],
  limits: BatchLimits = DEFAULT_BATCH_LIMITS,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = ENVELOPE_BYTES;
  for (const item of findings) {
    const added = item.bytes + (current.length > 0 ? 1 : 0);
    if (current.length > 0 && (current.length >= limits.maxFindings || bytes + added > limits.maxBytes)) {
      batches.push(current);
      current = [];
      bytes = ENVELOPE_BYTES;
    }
    bytes += item.bytes + (current.length > 0 ? 1 : 0);
    current.push(item);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
