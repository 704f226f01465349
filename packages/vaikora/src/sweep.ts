/**
 * The order the server appears to list actions in, from the timestamps seen so far in one sweep.
 * `unsorted` means the evidence disagrees; only `desc` allows stopping before the end of the list.
 */
export type SweepOrder = 'desc' | 'asc' | 'unknown' | 'unsorted';

/** Why a sweep ended; carried by its last page. */
export type SweepStopReason =
  /** An empty page, or a short one when `total` does not say more: the end of the list. */
  | 'end'
  /** Newest-first order and a page whose every parseable action is older than `stopBeforeMs`. */
  | 'cursor'
  /** `maxPages` pages were read before either of the above: the sweep is incomplete. */
  | 'max-pages';

/** Order evidence accumulated over the pages of one sweep. */
export interface OrderEvidence {
  readonly sawDesc: boolean;
  readonly sawAsc: boolean;
  readonly prevOldestMs: number | null;
  readonly prevNewestMs: number | null;
}

export const NO_ORDER_EVIDENCE: OrderEvidence = {
  sawDesc: false,
  sawAsc: false,
  prevOldestMs: null,
  prevNewestMs: null,
};

/**
 * Adds one page's parseable timestamps (in the order the server sent them) to the evidence.
 * Within a page the first and last timestamps decide; a page whose timestamps are all equal is
 * compared with the previous page's range instead.
 */
export function observeOrder(evidence: OrderEvidence, timestamps: readonly number[]): OrderEvidence {
  const first = timestamps[0];
  const last = timestamps[timestamps.length - 1];
  if (first === undefined || last === undefined) return evidence;
  let { sawDesc, sawAsc } = evidence;
  if (first > last) sawDesc = true;
  else if (first < last) sawAsc = true;
  else if (evidence.prevOldestMs !== null && evidence.prevNewestMs !== null) {
    if (first < evidence.prevOldestMs) sawDesc = true;
    else if (first > evidence.prevNewestMs) sawAsc = true;
  }
  let oldest = first;
  let newest = first;
  for (const t of timestamps) {
    if (t < oldest) oldest = t;
    if (t > newest) newest = t;
  }
  return { sawDesc, sawAsc, prevOldestMs: oldest, prevNewestMs: newest };
}

/** The order the evidence supports. */
export function orderOf(evidence: OrderEvidence): SweepOrder {
  if (evidence.sawDesc && evidence.sawAsc) return 'unsorted';
  if (evidence.sawDesc) return 'desc';
  if (evidence.sawAsc) return 'asc';
  return 'unknown';
}

export interface StopInput {
  readonly page: number;
  /** Records on the page as received, repeats and unparseable ones included. */
  readonly received: number;
  /** The page size the server says it used, else the one requested. */
  readonly pageSize: number;
  readonly maxPages: number;
  readonly order: SweepOrder;
  /** Newest parseable timestamp on the page (repeats included), null if none parsed. */
  readonly newestMs: number | null;
  readonly stopBeforeMs: number;
  /**
   * The page could not be read within the reader's bounds (ADR 0022): it held something, so it is
   * never the end of the list, and it says nothing about order or the cursor.
   */
  readonly unreadable?: boolean;
  /**
   * The envelope's `total` is more than the records received so far: a short page is then not the end
   * of the list (a server serving fewer than it says, a page cut short), and the sweep reads on (ADR 0130).
   */
  readonly totalSaysMore?: boolean;
}

/**
 * Decides whether a sweep ends after this page. Early stopping needs positive evidence of
 * newest-first order: with ascending, unknown or inconsistent order, the only safe end is the list's end.
 */
export function stopAfter(input: StopInput): SweepStopReason | null {
  if (input.unreadable === true) return input.page >= input.maxPages ? 'max-pages' : null;
  if (input.received === 0) return 'end';
  if (input.order === 'desc' && input.newestMs !== null && input.newestMs < input.stopBeforeMs)
    return 'cursor';
  if (input.received < input.pageSize && input.totalSaysMore !== true) return 'end';
  if (input.page >= input.maxPages) return 'max-pages';
  return null;
}
