/** Default budget for a kept raw record, in bytes of its JSON. */
export const defaultRawBudgetBytes = 8_192;

/** What `boundRaw` stores in place of a record too large to keep whole. */
export interface TruncatedRaw {
  truncated: true;
  bytes: number;
  preview: string;
}

/**
 * A bad record made safe to keep in `rejected_records.raw`: the value itself when its JSON fits the
 * budget, otherwise a marker with its size and the start of its JSON. Values JSON cannot represent
 * (undefined, functions, cycles) become a marker too, so recording a rejection never throws.
 */
export function boundRaw(value: unknown, budgetBytes: number = defaultRawBudgetBytes): unknown {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  if (json === undefined) return { truncated: true, bytes: 0, preview: '' } satisfies TruncatedRaw;
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes <= budgetBytes) return JSON.parse(json) as unknown;
  // Cut on characters, then trim until the bytes fit, so a multi-byte character is never split.
  let preview = json.slice(0, budgetBytes);
  while (Buffer.byteLength(preview, 'utf8') > budgetBytes) preview = preview.slice(0, -1);
  return { truncated: true, bytes, preview } satisfies TruncatedRaw;
}
