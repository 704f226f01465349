import type { OcsfDetectionFinding } from '@vsh/core';
import type { SchemaElement } from 'hyparquet-writer';

/**
 * One column of the Parquet schema, as a tree. `json` is OCSF's `json_t` (free-form JSON, stored as a
 * JSON string, as Security Lake's own tables store it); `map` is a string-to-string map.
 */
export type ParquetField =
  | {
      readonly name: string;
      readonly kind: 'string' | 'int32' | 'int64' | 'boolean' | 'json';
      readonly optional?: true;
    }
  | {
      readonly name: string;
      readonly kind: 'struct';
      readonly optional?: true;
      readonly fields: readonly ParquetField[];
    }
  | { readonly name: string; readonly kind: 'list'; readonly optional?: true; readonly element: ParquetField }
  | { readonly name: string; readonly kind: 'map'; readonly optional?: true };

const str = (name: string, optional?: true): ParquetField => ({
  name,
  kind: 'string',
  ...(optional ? { optional } : {}),
});
const i32 = (name: string, optional?: true): ParquetField => ({
  name,
  kind: 'int32',
  ...(optional ? { optional } : {}),
});
/** OCSF `timestamp_t` and `long_t`: epoch milliseconds as INT64 (Athena `bigint`, like Security Lake's `time`). */
const i64 = (name: string): ParquetField => ({ name, kind: 'int64' });
const struct = (name: string, fields: readonly ParquetField[], optional?: true): ParquetField => ({
  name,
  kind: 'struct',
  fields,
  ...(optional ? { optional } : {}),
});
const list = (name: string, element: ParquetField, optional?: true): ParquetField => ({
  name,
  kind: 'list',
  element,
  ...(optional ? { optional } : {}),
});

const resource = struct('element', [
  str('type'),
  str('uid'),
  str('name', true),
  // OCSF's resource `data` is json_t.
  { name: 'data', kind: 'json', optional: true },
]);
const endpoint = (name: string) => struct(name, [str('ip', true), str('hostname', true)], true);

/**
 * The Parquet schema of the OCSF 1.6 Detection Finding this connector emits (`OcsfDetectionFinding`):
 * native Parquet groups for OCSF objects and 3-level LISTs for arrays, so Glue's crawler types each
 * OCSF object as an Athena `struct` and each array as an `array`, as in Security Lake's own tables.
 * The writer refuses a finding with an attribute this schema does not name, so the two cannot drift.
 */
export const OCSF_DETECTION_FINDING_PARQUET: readonly ParquetField[] = [
  i32('activity_id'),
  str('activity_name'),
  i32('category_uid'),
  str('category_name'),
  i32('class_uid'),
  str('class_name'),
  i64('type_uid'),
  str('type_name'),
  i32('severity_id'),
  str('severity'),
  i64('time'),
  i32('timezone_offset'),
  str('message'),
  i32('status_id'),
  str('status'),
  { name: 'is_alert', kind: 'boolean' },
  struct('metadata', [
    str('version'),
    struct('product', [str('name'), str('vendor_name'), str('version', true)]),
    str('original_time'),
    i64('processed_time'),
    str('tenant_uid'),
  ]),
  struct('finding_info', [
    str('uid'),
    str('title'),
    str('desc'),
    list('types', str('element')),
    i64('created_time'),
    i64('first_seen_time'),
    i64('last_seen_time'),
    i64('modified_time'),
    struct('analytic', [i32('type_id'), str('type'), str('name'), str('uid', true)]),
    str('src_url', true),
  ]),
  list('resources', resource),
  list(
    'evidences',
    struct('element', [
      struct('actor', [str('app_name'), str('app_uid', true), struct('user', [str('name')], true)]),
      str('name'),
      list('resources', resource, true),
      endpoint('src_endpoint'),
      endpoint('dst_endpoint'),
      struct('url', [str('url_string')], true),
    ]),
  ),
  i32('confidence_id', true),
  str('confidence', true),
  i32('confidence_score', true),
  i32('risk_score', true),
  i32('risk_level_id', true),
  str('risk_level', true),
  // OCSF's `unmapped` is a free-form object; ours holds one string-to-string map, Athena `map<string,string>`.
  struct('unmapped', [{ name: 'vaikora', kind: 'map' }]),
];

/** The flattened Parquet schema (depth-first, root first) for hyparquet-writer. */
export function parquetSchemaOf(fields: readonly ParquetField[]): SchemaElement[] {
  const out: SchemaElement[] = [{ name: 'root', num_children: fields.length }];
  for (const field of fields) appendField(out, field);
  return out;
}

function appendField(out: SchemaElement[], field: ParquetField): void {
  const repetition_type = field.optional ? 'OPTIONAL' : 'REQUIRED';
  const { name } = field;
  switch (field.kind) {
    case 'string':
      out.push({
        name,
        repetition_type,
        type: 'BYTE_ARRAY',
        converted_type: 'UTF8',
        logical_type: { type: 'STRING' },
      });
      return;
    case 'json':
      out.push({
        name,
        repetition_type,
        type: 'BYTE_ARRAY',
        converted_type: 'JSON',
        logical_type: { type: 'JSON' },
      });
      return;
    case 'int32':
      out.push({ name, repetition_type, type: 'INT32' });
      return;
    case 'int64':
      out.push({ name, repetition_type, type: 'INT64' });
      return;
    case 'boolean':
      out.push({ name, repetition_type, type: 'BOOLEAN' });
      return;
    case 'struct':
      out.push({ name, repetition_type, num_children: field.fields.length });
      for (const child of field.fields) appendField(out, child);
      return;
    case 'list':
      out.push({
        name,
        repetition_type,
        converted_type: 'LIST',
        logical_type: { type: 'LIST' },
        num_children: 1,
      });
      out.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      appendField(out, { ...field.element, name: 'element' });
      return;
    case 'map':
      out.push({
        name,
        repetition_type,
        converted_type: 'MAP',
        logical_type: { type: 'MAP' },
        num_children: 1,
      });
      out.push({ name: 'key_value', repetition_type: 'REPEATED', num_children: 2 });
      out.push({
        name: 'key',
        repetition_type: 'REQUIRED',
        type: 'BYTE_ARRAY',
        converted_type: 'UTF8',
        logical_type: { type: 'STRING' },
      });
      out.push({
        name: 'value',
        repetition_type: 'OPTIONAL',
        type: 'BYTE_ARRAY',
        converted_type: 'UTF8',
        logical_type: { type: 'STRING' },
      });
      return;
  }
}

/** A value that does not fit the schema: a bug in the mapper or in the schema, never a data error. */
export class SchemaMismatchError extends Error {
  override name = 'SchemaMismatchError';
}

/**
 * A finding's value for one column in the shape hyparquet-writer encodes: groups stay objects, `json`
 * becomes its JSON text, maps become `{key, value}` entries. Throws SchemaMismatchError for an attribute
 * the schema does not name, a missing required one, or a wrong type.
 */
function toParquetValue(field: ParquetField, value: unknown, path: string): unknown {
  if (value === undefined || value === null) {
    if (field.optional) return undefined;
    throw new SchemaMismatchError(`${path} is required by the Parquet schema`);
  }
  switch (field.kind) {
    case 'string':
      // Parquet strings are UTF-8, which has no lone surrogates: they become U+FFFD here, explicitly.
      return (expect(typeof value === 'string', value, path, 'a string') as string).toWellFormed();
    case 'json':
      return JSON.stringify(value);
    case 'int32':
      return expect(
        Number.isSafeInteger(value) && Math.abs(value as number) < 2 ** 31,
        value,
        path,
        'an int32',
      );
    case 'int64':
      return BigInt(expect(Number.isSafeInteger(value), value, path, 'a safe integer') as number);
    case 'boolean':
      return expect(typeof value === 'boolean', value, path, 'a boolean');
    case 'struct': {
      if (typeof value !== 'object' || Array.isArray(value)) throw mismatch(path, 'an object');
      const record = value as Record<string, unknown>;
      const known = new Set(field.fields.map((f) => f.name));
      const unknown = Object.keys(record).find((key) => !known.has(key));
      if (unknown !== undefined)
        throw new SchemaMismatchError(`${path}.${unknown} is not in the Parquet schema`);
      const out: Record<string, unknown> = {};
      for (const child of field.fields) {
        const converted = toParquetValue(child, record[child.name], `${path}.${child.name}`);
        if (converted !== undefined) out[child.name] = converted;
      }
      return out;
    }
    case 'list':
      if (!Array.isArray(value)) throw mismatch(path, 'an array');
      return value.map((item, i) => toParquetValue(field.element, item, `${path}[${i}]`));
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value)) throw mismatch(path, 'an object');
      return Object.entries(value as Record<string, unknown>).map(([key, v]) => ({
        key: key.toWellFormed(),
        value: (expect(typeof v === 'string', v, `${path}.${key}`, 'a string') as string).toWellFormed(),
      }));
    }
  }
}

function expect(ok: boolean, value: unknown, path: string, what: string): unknown {
  if (!ok) throw mismatch(path, what);
  return value;
}

function mismatch(path: string, what: string): SchemaMismatchError {
  return new SchemaMismatchError(`${path} must be ${what}`);
}

/** The columns of a set of findings, one per top-level attribute of the schema. */
export function columnsOf(
  findings: readonly OcsfDetectionFinding[],
  fields: readonly ParquetField[] = OCSF_DETECTION_FINDING_PARQUET,
): { name: string; data: unknown[] }[] {
  const root: ParquetField = { name: 'finding', kind: 'struct', fields };
  const rows = findings.map(
    (finding, i) => toParquetValue(root, finding, `finding[${i}]`) as Record<string, unknown>,
  );
  return fields.map((field) => ({ name: field.name, data: rows.map((row) => row[field.name]) }));
}
