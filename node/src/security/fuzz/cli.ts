// `npm run fuzz -- [--runs N] [--seed S] [--target SUBSTRING] [--no-http] [--json]`: the long fuzz run
// over every target (docs/reliability.md). --runs is the case count per decoder target (HTTP targets
// get their weight's share); the default, VIGIL_FUZZ_RUNS or 70,000, makes over a million cases.
// Exit status: 0 clean, 1 a finding, 2 bad usage.
import { parseArgs } from 'node:util';
import { allTargets } from './all-targets.ts';
import { formatReport, runAll } from './run-all.ts';

const USAGE =
  'usage: npm run fuzz -- [--runs N] [--seed S] [--target SUBSTRING] [--no-http] [--json]   (docs/reliability.md)';

function main(): Promise<number> | number {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const runs = Number(args.runs ?? process.env.VIGIL_FUZZ_RUNS ?? 70_000);
  const seed = Number(args.seed ?? Date.now() % 2 ** 31);
  if (!Number.isSafeInteger(runs) || runs < 1 || !Number.isSafeInteger(seed)) {
    process.stderr.write('--runs and --seed must be positive integers\n');
    return 2;
  }
  return run(runs, seed, args);
}

function parse() {
  return parseArgs({
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      target: { type: 'string' },
      'no-http': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
}

async function run(runs: number, seed: number, args: ReturnType<typeof parse>): Promise<number> {
  const suite = await allTargets({
    http: !args['no-http'],
    ...(args.target !== undefined ? { filter: args.target } : {}),
  });
  try {
    if (!args.json)
      process.stdout.write(
        `fuzz: ${suite.targets.length} targets, ${runs} cases per decoder, seed ${seed}\n`,
      );
    const summary = await runAll(suite.targets, {
      runs,
      seed,
      ...(args.json ? {} : { onReport: (r) => process.stdout.write(`${formatReport(r)}\n`) }),
    });
    if (args.json)
      process.stdout.write(`${JSON.stringify({ seed, runsPerDecoder: runs, ...summary }, null, 2)}\n`);
    else
      process.stdout.write(
        `total: ${summary.totalCases} cases in ${(summary.elapsedMs / 1000).toFixed(1)} s, ${summary.failures} failing target(s); reproduce with --seed ${seed}\n`,
      );
    return summary.failures === 0 ? 0 : 1;
  } finally {
    await suite.close();
  }
}

process.exitCode = await main();
