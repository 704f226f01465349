/**
 * GetFindings' StringFilters as the memory Security Hub applies them: the fields it understands and
 * Security Hub's way of combining comparisons. Pure.
 */
import { type AsffFinding, isRecord } from './wire.ts';

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

// GetFindings StringFilter fields the memory backend understands, and how to read them.
const STRING_FILTER_FIELDS: Record<string, (f: AsffFinding) => string[]> = {
  Id: (f) => strings(f.Id),
  AwsAccountId: (f) => strings(f.AwsAccountId),
  ProductArn: (f) => strings(f.ProductArn),
  ProductName: (f) => strings(f.ProductName),
  CompanyName: (f) => strings(f.CompanyName),
  GeneratorId: (f) => strings(f.GeneratorId),
  Title: (f) => strings(f.Title),
  Description: (f) => strings(f.Description),
  Region: (f) => strings(f.Region),
  RecordState: (f) => strings(f.RecordState),
  SourceUrl: (f) => strings(f.SourceUrl),
  Type: (f) => strings(f.Types),
  SeverityLabel: (f) => strings(isRecord(f.Severity) ? f.Severity.Label : undefined),
  WorkflowStatus: (f) => strings(isRecord(f.Workflow) ? f.Workflow.Status : undefined),
  ComplianceStatus: (f) => strings(isRecord(f.Compliance) ? f.Compliance.Status : undefined),
  ResourceId: (f) =>
    Array.isArray(f.Resources) ? f.Resources.flatMap((r) => strings(isRecord(r) ? r.Id : undefined)) : [],
  ResourceType: (f) =>
    Array.isArray(f.Resources) ? f.Resources.flatMap((r) => strings(isRecord(r) ? r.Type : undefined)) : [],
};

function compareString(actual: string, comparison: string, expected: string): boolean {
  switch (comparison) {
    case 'EQUALS':
    case 'NOT_EQUALS':
      return actual === expected;
    case 'PREFIX':
    case 'PREFIX_NOT_EQUALS':
      return actual.startsWith(expected);
    case 'CONTAINS':
    case 'NOT_CONTAINS':
      return actual.includes(expected);
    case 'CONTAINS_WORD':
      return actual.split(/\s+/).includes(expected);
    default:
      return false;
  }
}

const NEGATIVE = new Set(['NOT_EQUALS', 'PREFIX_NOT_EQUALS', 'NOT_CONTAINS']);

/**
 * Applies GetFindings StringFilters the way Security Hub combines them: positive comparisons on one
 * field are OR-ed, negative ones AND-ed, fields AND-ed. Returns an error text for what it cannot do.
 */
export function filterFindings(findings: AsffFinding[], filters: unknown): AsffFinding[] | string {
  if (filters === undefined) return findings;
  if (!isRecord(filters)) return 'Filters must be an object';
  const tests: Array<(f: AsffFinding) => boolean> = [];
  for (const [field, conditions] of Object.entries(filters)) {
    const read = STRING_FILTER_FIELDS[field];
    if (read === undefined) return `filter ${field} is not supported by the fault proxy's memory backend`;
    if (!Array.isArray(conditions)) return `filter ${field} must be a list`;
    const parsed: Array<{ value: string; comparison: string }> = [];
    for (const condition of conditions) {
      if (
        !isRecord(condition) ||
        typeof condition.Value !== 'string' ||
        typeof condition.Comparison !== 'string'
      ) {
        return `filter ${field} needs Value and Comparison`;
      }
      parsed.push({ value: condition.Value, comparison: condition.Comparison });
    }
    const positive = parsed.filter((c) => !NEGATIVE.has(c.comparison));
    const negative = parsed.filter((c) => NEGATIVE.has(c.comparison));
    tests.push((finding) => {
      const values = read(finding);
      const positiveOk =
        positive.length === 0 ||
        positive.some((c) => values.some((v) => compareString(v, c.comparison, c.value)));
      const negativeOk = negative.every((c) => values.every((v) => !compareString(v, c.comparison, c.value)));
      return positiveOk && negativeOk;
    });
  }
  return findings.filter((finding) => tests.every((test) => test(finding)));
}
