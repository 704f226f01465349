import { z } from 'zod';

/*
 * Input schemas that the API routes and the web pages both parse with. Plain zod (no HTTP package):
 * descriptions and examples go in `.meta()`, which the OpenAPI generator reads like `.openapi()`.
 */

/**
 * Text without control characters (Unicode Cc) or lone surrogates (Cs), the same set as
 * `/^[^\p{Cc}\p{Cs}]*$/u`. Spelled with code-unit ranges and no flag because its source is published
 * as an OpenAPI `pattern`: a flag would leak into it, and generators compile it without `u`, where
 * `\p{...}` means something else. A surrogate pair passes as a whole, so emoji are allowed either way.
 */
export const NO_CONTROL_CHARACTERS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
  /^(?:[^\u0000-\u001f\u007f-\u009f\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])*$/;

/** A name a person gives (a tenant, an API key): trimmed, 1 to `max` characters, no control characters. */
export function displayName(max: number) {
  return z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(NO_CONTROL_CHARACTERS, 'must not contain control characters');
}

/** What a Vaikora agent id may be, wherever the API accepts one (settings, destination routing). */
export const AGENT_ID_PATTERN = /^[\x21-\x7e]{1,256}$/;

/** A list of Vaikora agent ids: 1 to 100 unique ids of 1 to 256 visible ASCII characters. */
export const agentIdsSchema = z
  .array(z.string().regex(AGENT_ID_PATTERN, 'must be 1 to 256 visible ASCII characters'))
  .min(1, 'must name at least one Vaikora agent')
  .max(100, 'must name at most 100 agents')
  .refine((ids) => new Set(ids).size === ids.length, 'must not repeat an agent id')
  .meta({ example: ['agt-support-bot', 'agt-sql'] });
