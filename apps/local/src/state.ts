import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const localStateSchema = z.object({
  masterKey: z.string(),
  operatorKey: z.string(),
  vaikoraKey: z.string(),
  /** Where the local stack's API listens; written by every `pnpm start`, read by the operator CLI. */
  apiUrl: z.string().optional(),
  demo: z.object({ tenantId: z.string(), tenantApiKey: z.string(), destinationId: z.string() }).optional(),
  /**
   * Ports used last time, tried first on the next start: tenants made by hand keep the simulator's URL
   * as their Vaikora base URL, so it must not move between starts.
   */
  ports: z
    .object({
      vaikora: z.number().int().positive().optional(),
      moto: z.number().int().positive().optional(),
      dynamodb: z.number().int().positive().optional(),
    })
    .optional(),
});
export type LocalState = z.infer<typeof localStateSchema>;

/** The state file of a data folder. */
export function localStateFile(dataDir: string): string {
  return join(dataDir, 'local-state.json');
}

/** This machine's local stack state, or undefined when there is none (or it is unreadable). */
export function readLocalState(dataDir: string): LocalState | undefined {
  const file = localStateFile(dataDir);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = localStateSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Keys this machine's local stack keeps between runs (never used outside local mode). */
export function loadState(dataDir: string): LocalState {
  const existing = readLocalState(dataDir);
  if (existing !== undefined) return existing;
  const state: LocalState = {
    masterKey: randomBytes(32).toString('base64'),
    operatorKey: `vsh_op_${randomBytes(24).toString('base64url')}`,
    vaikoraKey: `vk_test_demo_${randomBytes(12).toString('hex')}`,
  };
  saveState(dataDir, state);
  return state;
}

/** Writes the state file, readable by its owner only (it holds the operator key). */
export function saveState(dataDir: string, state: LocalState): void {
  const file = localStateFile(dataDir);
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/**
 * Makes a data folder private to its owner: the folder and every folder under it 0700, every file 0600
 * (PGlite's files hold tenants' encrypted keys and the audit log).
 */
export function securePermissions(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const walk = (dir: string) => {
    chmodSync(dir, 0o700);
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      const stat = lstatSync(path, { throwIfNoEntry: false });
      if (stat === undefined || stat.isSymbolicLink()) continue;
      if (stat.isDirectory()) walk(path);
      else chmodSync(path, 0o600);
    }
  };
  walk(dataDir);
}
