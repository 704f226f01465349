import type { SecurityHubModel } from '@vsh/fixtures';

type Model = Pick<SecurityHubModel, 'shapes'>;

const MAX_FROM_DOC = /Maximum(?: length)? of (\d+)/i;
const MAX_ITEMS_FROM_DOC = /Maximum number of (\d+) items/i;
const MIN_FROM_DOC = /Minimum(?: length)? of (\d+)/i;

/**
 * Checks a value against a shape of the model: unknown members, required members, types, enums,
 * patterns (Java regex, matched whole), and the length limits the model states in its documentation.
 * Returns every violation with its path.
 */
export function checkShape(model: Model, shapeName: string, value: unknown, path = '$', doc = ''): string[] {
  const shape = model.shapes[shapeName];
  if (!shape) return [`${path}: unknown shape ${shapeName}`];
  const errors: string[] = [];
  switch (shape.type) {
    case 'structure': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return [`${path}: expected object`];
      const obj = value as Record<string, unknown>;
      for (const req of shape.required ?? []) {
        if (obj[req] === undefined) errors.push(`${path}.${req}: required member missing`);
      }
      for (const [key, v] of Object.entries(obj)) {
        const member = shape.members?.[key];
        if (!member) {
          errors.push(`${path}.${key}: not a member of ${shapeName}`);
          continue;
        }
        errors.push(...checkShape(model, member.shape, v, `${path}.${key}`, member.documentation ?? ''));
      }
      return errors;
    }
    case 'list': {
      if (!Array.isArray(value)) return [`${path}: expected list`];
      const maxItems = MAX_ITEMS_FROM_DOC.exec(doc);
      if (maxItems && value.length > Number(maxItems[1]))
        errors.push(`${path}: more than ${maxItems[1]} items`);
      if (shape.max !== undefined && value.length > shape.max)
        errors.push(`${path}: more than ${shape.max} items`);
      value.forEach((item, i) => {
        if (shape.member) errors.push(...checkShape(model, shape.member.shape, item, `${path}[${i}]`));
      });
      return errors;
    }
    case 'map': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return [`${path}: expected map`];
      for (const [k, v] of Object.entries(value)) {
        if (shape.key)
          errors.push(...checkShape(model, shape.key.shape, k, `${path}{key ${k.slice(0, 20)}}`));
        if (shape.value)
          errors.push(...checkShape(model, shape.value.shape, v, `${path}[${k.slice(0, 20)}]`));
      }
      return errors;
    }
    case 'string': {
      if (typeof value !== 'string') return [`${path}: expected string`];
      if (shape.enum && !shape.enum.includes(value)) errors.push(`${path}: ${value} not in enum`);
      if (shape.pattern && !new RegExp(`^(?:${shape.pattern})$`, 'u').test(value)) {
        errors.push(`${path}: does not match ${shape.pattern}`);
      }
      const max = MAX_FROM_DOC.exec(doc)?.[1] ?? shape.max;
      if (max !== undefined && value.length > Number(max)) errors.push(`${path}: longer than ${max}`);
      const min = MIN_FROM_DOC.exec(doc)?.[1] ?? shape.min;
      if (min !== undefined && value.length < Number(min)) errors.push(`${path}: shorter than ${min}`);
      return errors;
    }
    case 'integer':
    case 'long':
      return Number.isInteger(value) ? [] : [`${path}: expected integer`];
    case 'double':
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? [] : [`${path}: expected number`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected boolean`];
    default:
      return [`${path}: unsupported shape type ${shape.type}`];
  }
}
