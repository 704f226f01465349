import { EnvError, loadEnv } from './env.ts';
import { startApiServer } from './server.ts';

// `pnpm -F @vsh/api start`: the API alone, configured by the environment (see env.ts).
// The signal listeners come first: the server logs "api listening" as it starts, and whoever reads that
// line may signal at once; without a listener, SIGTERM's default action would end the process unclosed.
let close: (() => Promise<void>) | undefined;
let stopping = false;
const stop = () => {
  stopping = true;
  close?.().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
try {
  const server = await startApiServer({ env: loadEnv() });
  close = () => server.close();
  if (stopping) stop();
} catch (err) {
  process.stderr.write(`${err instanceof EnvError ? err.message : String(err)}\n`);
  process.exit(1);
}
