// `npm run bench -- <name> [options]`: runs one benchmark and prints a table and a JSON line.
// `npm run bench` / `npm run bench -- --quick` (no name): the whole suite (suite.ts) with results in
// bench/results/.
const benches: Record<string, () => Promise<{ main: () => Promise<void> }>> = {
  node: () => import('./node-exec.ts'),
  suite: () => import('./suite.ts'),
  profile: () => import('./profile.ts'),
  render: () => import('./render.ts'),
  probe: () => import('./probe.ts'),
  replay: () => import('./replay.ts'),
  'cpu-windows': () => import('./cpu-windows.ts'),
};

const USAGE = `usage: npm run bench -- [name] [options]   (docs/benchmarks.md explains every number)
  (no name) | suite   [--quick | --extended] [--seed N] [--only sim,node,real] [--networks n4-loopback,...]
                      [--out DIR]
                      the suite; records, reports and charts under bench/results/
  node                [--blocks 30] [--warmup 3] [--txs 1000] [--workers N] [--root-interval K] [--receipts-roots 0|1] [--block-effects 0|1] [--profile FILE]
                      one node executing blocks with signature checks vs raw ed25519 on all cores
  profile             [--n 4] [--rate 100] [--seconds 15] [--seed 1]
                      validators under --cpu-prof; CPU by area and function
  probe               [--n 4] [--points 200,400] [--seconds 10] [--latency MS] [--loss 0.01] [--catchup S]
                      [--catchup-rate 300] [--devices 64] [--seed 1] [--keep-logs DIR] [--log-level warn] [--cpu-prof DIR]
                      [--keep-chain DIR] [--samples FILE] [--node-options=FLAGS] [--root-interval K] [--block-effects 0|1]
                      [--receipts-roots 0|1]
                      load points against one network; optional catch-up after S seconds down
  replay              HOME [--verify] [--execute] [--profile FILE] [--to HEIGHT] [--segments N]
                      re-applies a kept home's blocks to a fresh chain (catch-up without the network;
                      from its effects records where it has them, ADR 0133, unless --execute)
  render              bench/results/<record>.json
                      re-renders a record's report and charts
  cpu-windows         FILE.cpuprofile... [--windows 5] [--limit 8]
                      a CPU profile cut into equal time spans: busy share, top areas and functions`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const first = args[0];
// No name (or an option first) runs the suite with every argument as its options.
const name = first === undefined || first.startsWith('--') ? 'suite' : first;
if (name === 'suite' && first === 'suite') process.argv.splice(2, 1);
const load = benches[name];
if (load === undefined) {
  console.error(`unknown benchmark '${name}'\n${USAGE}`);
  process.exit(2);
}
try {
  await (await load()).main();
} catch (err) {
  // A mistyped option is the researcher's, not a crash: say which, show the usage, exit 2.
  const code = (err as { code?: string }).code;
  if (typeof code === 'string' && (code.startsWith('ERR_PARSE_ARGS_') || code === 'USAGE')) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  throw err;
}
