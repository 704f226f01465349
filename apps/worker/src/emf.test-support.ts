import { vi } from 'vitest';

/** One EMF document as CloudWatch Logs reads it. */
export type EmfDocument = Record<string, unknown> & {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit?: string; StorageResolution?: number }>;
    }>;
  };
};

/** Captures what is written to the process's stdout; `emf()` parses the lines that carry an `_aws` block. */
export function captureStdout(): { text(): string; emf(): EmfDocument[]; restore(): void } {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stdout.write);
  const text = () => chunks.join('');
  return {
    text,
    emf: () =>
      text()
        .split('\n')
        .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
        .map((line) => JSON.parse(line) as EmfDocument),
    restore: () => spy.mockRestore(),
  };
}

// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
const UNITS = new Set([
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
]);

/**
 * What in `line` breaks the EMF specification (empty when nothing): the `_aws` block with an integer
 * millisecond `Timestamp` within CloudWatch's accepted range, and directives with a namespace, dimension
 * sets of at most 30 names, at most 100 metrics with known units; every dimension a top-level string and
 * every metric a top-level number or array of at most 100 numbers.
 */
export function emfViolations(line: unknown, now = Date.now()): string[] {
  const out: string[] = [];
  if (typeof line !== 'object' || line === null) return ['not an object'];
  const root = line as Record<string, unknown>;
  const aws = root._aws as Record<string, unknown> | undefined;
  if (typeof aws !== 'object' || aws === null) return ['no _aws object'];
  for (const key of Object.keys(aws)) {
    if (!['Timestamp', 'CloudWatchMetrics', 'LogGroupName', 'LogStreamName'].includes(key))
      out.push(`_aws has an unknown member ${key}`);
  }
  const ts = aws.Timestamp;
  if (typeof ts !== 'number' || !Number.isInteger(ts)) out.push('Timestamp is not an integer');
  else if (ts < now - 14 * 86_400_000 || ts > now + 2 * 3_600_000) out.push('Timestamp out of range');
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives) || directives.length === 0) return [...out, 'no CloudWatchMetrics'];
  for (const d of directives as Array<Record<string, unknown>>) {
    if (typeof d.Namespace !== 'string' || d.Namespace.length === 0 || d.Namespace.length > 255)
      out.push('bad Namespace');
    if (!Array.isArray(d.Dimensions)) out.push('Dimensions is not an array');
    else {
      for (const set of d.Dimensions as unknown[]) {
        if (!Array.isArray(set) || set.length > 30) {
          out.push('a dimension set is not an array of at most 30 names');
          continue;
        }
        for (const name of set) {
          if (typeof name !== 'string' || typeof root[name] !== 'string' || root[name] === '')
            out.push(`dimension ${String(name)} has no top-level string value`);
        }
      }
    }
    if (!Array.isArray(d.Metrics) || d.Metrics.length > 100) out.push('Metrics is not an array of <= 100');
    else {
      for (const m of d.Metrics as Array<Record<string, unknown>>) {
        if (typeof m.Name !== 'string' || m.Name.length === 0 || m.Name.length > 1024) out.push('bad Name');
        if (m.Unit !== undefined && !UNITS.has(String(m.Unit))) out.push(`unknown Unit ${String(m.Unit)}`);
        const value = root[String(m.Name)];
        const ok =
          (typeof value === 'number' && Number.isFinite(value)) ||
          (Array.isArray(value) &&
            value.length > 0 &&
            value.length <= 100 &&
            value.every((v) => typeof v === 'number' && Number.isFinite(v)));
        if (!ok) out.push(`metric ${String(m.Name)} has no top-level number (or array of <= 100)`);
      }
    }
  }
  return out;
}
