/**
 * A checker for OCSF events, compiled from the schema repository's own files (vendored in @vsh/fixtures).
 *
 * Hand-written because nothing better is at hand: OCSF's JSON Schema export comes from its schema server
 * (not available offline, and not vendorable as files of the schema repository), and no npm package
 * validates OCSF; the maintained validators (ocsf-validator, ocsf-lib) are Python packages from a
 * registry this project does not reach. The rules it applies are the ones the schema server compiles:
 * - a class inherits its parent's attributes (`extends`: detection_finding -> finding -> base_event),
 *   and an object its parent's (`_entity`, `_resource`, ...); a child's attribute definition is merged
 *   over the parent's and over the dictionary's (type, is_array, enum, sibling), enums key by key;
 * - `class_uid`, `category_uid` and `type_uid` get the enums the server computes (category uid * 1000 +
 *   class uid; class uid * 100 + activity id), and a sibling caption (`severity`, `class_name`,
 *   `type_name` ...) must be the caption of its id unless the id is 99 (Other);
 * - required attributes present, no attribute unknown to the class or object, types from dictionary.json
 *   (derived `_t` types walked down to their base type, with their regex, max_len, range and values),
 *   integer enums, `is_array`, object constraints (`at_least_one`, `just_one`), no deprecated attribute.
 * Profiles are not applied: `$include`d profile attributes, and attributes a definition marks with a
 * profile, are unknown here. The mapper applies no profile (metadata.profiles is absent), so an attribute
 * that only a profile defines would be an error in its output too.
 */
import type { OcsfAttributeDef, OcsfDefinition, OcsfSchema } from '@vsh/fixtures';

type Requirement = 'required' | 'recommended' | 'optional';
type Enum = Readonly<Record<string, { readonly caption: string }>>;

interface Attribute {
  readonly type: string;
  readonly isArray: boolean;
  readonly requirement: Requirement;
  readonly enum: Enum | undefined;
  readonly sibling: string | undefined;
  readonly deprecated: boolean;
}

interface Compiled {
  readonly name: string;
  readonly attributes: ReadonlyMap<string, Attribute>;
  readonly atLeastOne: readonly string[] | undefined;
  readonly justOne: readonly string[] | undefined;
}

/** A compiled event class: `check` returns every violation with its path (empty when the event is valid). */
export interface OcsfClassChecker {
  readonly classUid: number;
  readonly categoryUid: number;
  check(event: unknown): string[];
}

const BASE_TYPES = new Set(['string_t', 'integer_t', 'long_t', 'float_t', 'boolean_t', 'json_t']);
const INT32 = 2 ** 31;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The definition's own attributes (without `$include`, and without those a profile owns). */
function ownAttributes(definition: OcsfDefinition): [string, OcsfAttributeDef][] {
  const out: [string, OcsfAttributeDef][] = [];
  for (const [name, value] of Object.entries(definition.attributes)) {
    if (name === '$include' || Array.isArray(value)) continue;
    const attribute = value as OcsfAttributeDef;
    if (typeof attribute.profile === 'string') continue;
    out.push([name, attribute]);
  }
  return out;
}

function mergeAttribute(base: OcsfAttributeDef | undefined, over: OcsfAttributeDef): OcsfAttributeDef {
  if (base === undefined) return over;
  const merged: OcsfAttributeDef = { ...base, ...over };
  return base.enum && over.enum ? { ...merged, enum: { ...base.enum, ...over.enum } } : merged;
}

/** Compiles one event class (by name) of the schema into a checker. */
export function compileOcsfClass(schema: OcsfSchema, className: string): OcsfClassChecker {
  const dictionary = schema.dictionary.attributes;
  const types = schema.dictionary.types.attributes;
  const regexes = new Map<string, RegExp>();
  const objects = new Map<string, Compiled>();

  function chain(definitions: Readonly<Record<string, OcsfDefinition>>, name: string): OcsfDefinition[] {
    const out: OcsfDefinition[] = [];
    for (let d = definitions[name]; d !== undefined; d = d.extends ? definitions[d.extends] : undefined) {
      out.unshift(d);
      if (d.extends && definitions[d.extends] === undefined)
        throw new Error(`${d.name} extends unknown ${d.extends}`);
    }
    if (out.length === 0) throw new Error(`no definition ${name}`);
    return out;
  }

  function compile(definitions: OcsfDefinition[]): Compiled {
    const merged = new Map<string, OcsfAttributeDef>();
    let constraints: OcsfDefinition['constraints'];
    for (const definition of definitions) {
      for (const [name, attribute] of ownAttributes(definition)) {
        merged.set(name, mergeAttribute(merged.get(name), attribute));
      }
      if (definition.constraints) constraints = definition.constraints;
    }
    const attributes = new Map<string, Attribute>();
    for (const [name, own] of merged) {
      const full = mergeAttribute(dictionary[name], own);
      if (full.type === undefined) throw new Error(`${name}: no type in the definition or the dictionary`);
      attributes.set(name, {
        type: full.type,
        isArray: full.is_array === true,
        requirement: full.requirement ?? 'optional',
        enum: full.enum,
        sibling: full.sibling,
        deprecated: full['@deprecated'] !== undefined,
      });
    }
    const last = definitions[definitions.length - 1];
    return {
      name: last?.name ?? '?',
      attributes,
      atLeastOne: constraints?.at_least_one,
      justOne: constraints?.just_one,
    };
  }

  function object(name: string): Compiled {
    let compiled = objects.get(name);
    if (compiled === undefined) {
      compiled = compile(chain(schema.objects, name));
      objects.set(name, compiled);
    }
    return compiled;
  }

  function regex(typeName: string, source: string): RegExp {
    let re = regexes.get(typeName);
    if (re === undefined) {
      re = new RegExp(source);
      regexes.set(typeName, re);
    }
    return re;
  }

  function checkScalar(typeName: string, value: unknown, path: string): string[] {
    const errors: string[] = [];
    let name = typeName;
    for (;;) {
      const type = types[name];
      if (type === undefined) return [`${path}: unknown type ${name}`];
      if (type.regex !== undefined && typeof value === 'string' && !regex(name, type.regex).test(value))
        errors.push(`${path}: does not match ${name}`);
      if (type.max_len !== undefined && typeof value === 'string' && value.length > type.max_len)
        errors.push(`${path}: longer than ${type.max_len} (${name})`);
      if (
        type.range !== undefined &&
        typeof value === 'number' &&
        (value < type.range[0] || value > type.range[1])
      )
        errors.push(`${path}: outside ${type.range[0]}..${type.range[1]} (${name})`);
      if (type.values !== undefined && !type.values.includes(value))
        errors.push(`${path}: not one of ${name}`);
      if (type.type === undefined) break;
      name = type.type;
    }
    if (!BASE_TYPES.has(name)) return [`${path}: ${typeName} has no known base type (${name})`];
    switch (name) {
      case 'string_t':
        if (typeof value !== 'string') return [`${path}: expected ${typeName}`];
        break;
      case 'integer_t':
        if (!Number.isInteger(value) || Math.abs(value as number) >= INT32)
          return [`${path}: expected ${typeName}`];
        break;
      case 'long_t':
        if (!Number.isSafeInteger(value)) return [`${path}: expected ${typeName}`];
        break;
      case 'float_t':
        if (typeof value !== 'number' || !Number.isFinite(value)) return [`${path}: expected ${typeName}`];
        break;
      case 'boolean_t':
        if (typeof value !== 'boolean') return [`${path}: expected ${typeName}`];
        break;
      default:
        if (value === undefined) return [`${path}: expected ${typeName}`];
    }
    return errors;
  }

  function checkValue(attribute: Attribute, value: unknown, path: string): string[] {
    if (attribute.type === 'object') return isRecord(value) ? [] : [`${path}: expected object`];
    if (schema.objects[attribute.type] !== undefined) return checkObject(object(attribute.type), value, path);
    const errors = checkScalar(attribute.type, value, path);
    if (errors.length === 0 && attribute.enum !== undefined && !Object.hasOwn(attribute.enum, String(value)))
      errors.push(`${path}: ${String(value)} not in enum`);
    return errors;
  }

  function checkObject(compiled: Compiled, value: unknown, path: string): string[] {
    if (!isRecord(value)) return [`${path}: expected object ${compiled.name}`];
    const errors: string[] = [];
    for (const [name, attribute] of compiled.attributes) {
      if (attribute.requirement === 'required' && value[name] === undefined)
        errors.push(`${path}.${name}: required attribute missing`);
    }
    for (const [name, v] of Object.entries(value)) {
      const attribute = compiled.attributes.get(name);
      const at = `${path}.${name}`;
      if (attribute === undefined) {
        errors.push(`${at}: not an attribute of ${compiled.name}`);
        continue;
      }
      if (attribute.deprecated) errors.push(`${at}: deprecated`);
      if (attribute.isArray) {
        if (!Array.isArray(v)) errors.push(`${at}: expected array`);
        else for (const [i, item] of v.entries()) errors.push(...checkValue(attribute, item, `${at}[${i}]`));
      } else {
        errors.push(...checkValue(attribute, v, at));
      }
      if (
        attribute.sibling !== undefined &&
        attribute.enum !== undefined &&
        value[attribute.sibling] !== undefined
      ) {
        const caption = attribute.enum[String(v)]?.caption;
        if (String(v) !== '99' && caption !== undefined && value[attribute.sibling] !== caption)
          errors.push(`${path}.${attribute.sibling}: not the caption of ${name} ${String(v)} (${caption})`);
      }
    }
    const present = (names: readonly string[]) => names.filter((n) => value[n] !== undefined).length;
    if (compiled.atLeastOne && present(compiled.atLeastOne) === 0)
      errors.push(`${path}: needs at least one of ${compiled.atLeastOne.join(', ')}`);
    if (compiled.justOne && present(compiled.justOne) !== 1)
      errors.push(`${path}: needs exactly one of ${compiled.justOne.join(', ')}`);
    return errors;
  }

  const definitions = chain(schema.classes, className);
  const leaf = definitions[definitions.length - 1];
  const categoryName = definitions.map((d) => d.category).findLast((c) => c !== undefined);
  const category = categoryName === undefined ? undefined : schema.categories.attributes[categoryName];
  if (leaf?.uid === undefined || category === undefined)
    throw new Error(`${className}: no class uid or category`);
  const classUid = category.uid * 1000 + leaf.uid;
  const base = compile(definitions);
  const attributes = new Map(base.attributes);
  const activity = attributes.get('activity_id');
  const withEnum = (name: string, values: Enum): void => {
    const attribute = attributes.get(name);
    if (attribute === undefined) throw new Error(`${className}: no ${name}`);
    attributes.set(name, { ...attribute, enum: values });
  };
  withEnum('category_uid', { [category.uid]: { caption: category.caption } });
  withEnum('class_uid', { [classUid]: { caption: leaf.caption } });
  withEnum(
    'type_uid',
    Object.fromEntries(
      Object.entries(activity?.enum ?? {}).map(([id, { caption }]) => [
        classUid * 100 + Number(id),
        { caption: `${leaf.caption}: ${caption}` },
      ]),
    ),
  );
  const compiled: Compiled = { ...base, attributes };
  return {
    classUid,
    categoryUid: category.uid,
    check: (event) => checkObject(compiled, event, '$'),
  };
}
