import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * The part of the local stack's state file (`<data-dir>/local-state.json`, written by `pnpm start`) the
 * operator commands read. Only these two fields, so the CLI needs nothing of the local stack at run time;
 * apps/local/src/cli-state.test.ts checks it against the file @vsh/local writes.
 */
const localConnectionSchema = z.object({ operatorKey: z.string(), apiUrl: z.string().optional() });

/** The local stack's API and operator key from its data folder, or undefined when it has no readable state. */
export function readLocalConnection(dataDir: string): z.infer<typeof localConnectionSchema> | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'local-state.json'), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = localConnectionSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
