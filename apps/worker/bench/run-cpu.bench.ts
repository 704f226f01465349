// bench:run-cpu: worker CPU per tenant run, idle (nothing new in Vaikora) and busy (12 new actions),
// in-process with the real AWS SDK against a loopback stub (run-cpu.ts). CPU, not wall time: the
// machine is shared. `--only idle|busy` runs one kind (for --cpu-prof).
import { measureRuns, type RunKind } from './run-cpu.ts';

const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? (process.argv[onlyAt + 1] as RunKind) : undefined;
const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
const tenants = process.env.BENCH_TENANTS === undefined ? undefined : Number(process.env.BENCH_TENANTS);
const results = await measureRuns({ only, rounds, tenants });
console.log(
  'kind  runs  CPU µs/run p50   p90    mean   first p50  evicted p50  wall ms p50  DDB r/w  STS   SecHub  log B',
);
for (const r of results) {
  console.log(
    [
      r.kind.padEnd(4),
      String(r.runs).padStart(5),
      r.cpuUsP50.toFixed(0).padStart(13),
      r.cpuUsP90.toFixed(0).padStart(6),
      r.cpuUsMean.toFixed(0).padStart(6),
      r.coldCpuUsP50.toFixed(0).padStart(10),
      r.evictedCpuUsP50.toFixed(0).padStart(12),
      r.wallMsP50.toFixed(2).padStart(12),
      `${r.calls.dynamodbReads.toFixed(1)}/${r.calls.dynamodbWrites.toFixed(1)}`.padStart(8),
      r.calls.sts.toFixed(2).padStart(5),
      r.calls.securityHub.toFixed(2).padStart(7),
      r.logBytes.toFixed(0).padStart(6),
    ].join(' '),
  );
}
