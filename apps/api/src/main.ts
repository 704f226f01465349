import { EnvError, loadEnv } from './env.ts';
import { startApiServer } from './server.ts';

// `pnpm -F @vsh/api start`: the API alone, configured by the environment (see env.ts).
try {
  const server = await startApiServer({ env: loadEnv() });
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (err) {
  process.stderr.write(`${err instanceof EnvError ? err.message : String(err)}\n`);
  process.exit(1);
}
