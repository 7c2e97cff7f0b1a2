// `npm run sim -- ...`: replay one run exactly, or run every scenario over many seeds.
//
//   npm run sim -- --scenario NAME --seed N [--n 4] [--trace] [--json]
//   npm run sim -- --seeds 1000 [--scenario NAME] [--n 4] [--from 1] [--json]
//   common: [--mutant quorum-2f|new-view-without-proof] [--real-crypto] [--cpu SIGN_MS,VERIFY_MS] [--list]
//
// Exit code 1 when any run violated an invariant, 2 on a usage error.

import { parseArgs } from 'node:util';
import { runCampaign } from './campaign.ts';
import type { RunResult } from './scenario.ts';
import {
  type BuildOptions,
  buildScenario,
  DEFAULT_SIZES,
  type MutantName,
  Mutants,
  SCENARIO_NAMES,
} from './scenarios.ts';
import { runScenario } from './simulator.ts';

export class UsageError extends Error {
  readonly code = 'USAGE';
}

const USAGE = `usage:
  npm run sim -- --scenario NAME --seed N [--n 4] [--trace] [--json]
  npm run sim -- --seeds COUNT [--scenario NAME] [--n N] [--from FIRST_SEED] [--json]
options: --mutant ${Object.keys(Mutants).join('|')}  --real-crypto  --cpu SIGN_MS,VERIFY_MS  --list
scenarios: ${SCENARIO_NAMES.join(', ')}`;

function int(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new UsageError(`${what} must be a non-negative integer`);
  return Number(v);
}

/** Runs the CLI on `argv`, writing lines to `out`; returns the exit code. Throws UsageError. */
export function main(argv: string[], out: (line: string) => void = console.log): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string' },
      seed: { type: 'string' },
      seeds: { type: 'string' },
      from: { type: 'string' },
      n: { type: 'string' },
      trace: { type: 'boolean' },
      json: { type: 'boolean' },
      mutant: { type: 'string' },
      'real-crypto': { type: 'boolean' },
      cpu: { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    out(USAGE);
    return 0;
  }
  if (values.list) {
    for (const name of SCENARIO_NAMES) out(`${name.padEnd(24)} ${buildScenario(name, 4, 1).description}`);
    return 0;
  }
  const build: BuildOptions = {};
  if (values.mutant !== undefined) {
    if (!(values.mutant in Mutants)) throw new UsageError(`unknown mutant ${values.mutant}`);
    build.mutant = values.mutant as MutantName;
  }
  if (values['real-crypto']) build.realCrypto = true;
  if (values.cpu !== undefined) {
    const [s, v] = values.cpu.split(',').map(Number);
    if (!(s! >= 0 && v! >= 0)) throw new UsageError('--cpu takes SIGN_MS,VERIFY_MS');
    build.cpu = { signMs: s!, verifyMs: v! };
  }
  if (values.scenario !== undefined && !SCENARIO_NAMES.includes(values.scenario))
    throw new UsageError(`unknown scenario ${values.scenario}`);
  const n = int(values.n, '--n');
  if (n !== undefined && n < 4) throw new UsageError('--n must be at least 4');

  if (values.seeds !== undefined) {
    const result = runCampaign({
      ...build,
      seeds: int(values.seeds, '--seeds')!,
      firstSeed: int(values.from, '--from') ?? 1,
      ...(values.scenario ? { scenarios: [values.scenario] } : {}),
      sizes: n !== undefined ? [n] : DEFAULT_SIZES,
    });
    if (values.json) {
      out(JSON.stringify(result, null, 2));
    } else {
      const header = [
        'scenario',
        'n',
        'runs',
        'violations',
        'commits',
        'view changes',
        'txs',
        'p50 ms',
        'p99 ms',
      ];
      const rows = result.rows.map((r) => [
        r.scenario,
        String(r.n),
        String(r.runs),
        String(r.violations),
        String(r.commits),
        String(r.viewChanges),
        `${r.txsCommitted}/${r.txsSubmitted}`,
        r.latencyP50Ms.toFixed(0),
        r.latencyP99Ms.toFixed(0),
      ]);
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (cells: string[]) =>
        cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
      out(line(header));
      for (const r of rows) out(line(r));
      out(`${result.runs} runs, ${result.violations} violations`);
      for (const f of result.failures.slice(0, 20)) {
        out(
          `FAIL ${f.scenario} n=${f.n} seed=${f.seed}: ${f.violations[0]!.kind}: ${f.violations[0]!.detail}`,
        );
        out(`  reproduce: ${f.reproduce}`);
      }
      if (result.failures.length > 20) out(`... and ${result.failures.length - 20} more failing runs`);
    }
    return result.violations > 0 ? 1 : 0;
  }

  if (values.scenario === undefined || values.seed === undefined)
    throw new UsageError('give --scenario and --seed (one run), or --seeds (many)');
  const seed = int(values.seed, '--seed')!;
  const spec = buildScenario(values.scenario, n ?? 4, seed, build);
  const r = runScenario(spec, seed, values.trace && !values.json ? { onTrace: (l) => out(l) } : {});
  if (values.json) out(JSON.stringify({ spec, ...r }, null, 2));
  else printRun(r, spec.description, out);
  return r.violations.length > 0 ? 1 : 0;
}

function printRun(r: RunResult, description: string, out: (line: string) => void): void {
  out(`${r.scenario} n=${r.n} seed=${r.seed}: ${description}`);
  out(
    `  ${r.commits} blocks, ${r.txsCommitted}/${r.txsSubmitted} txs committed, highest view ${r.viewChanges}, ` +
      (r.epochs > 0 ? `highest epoch ${r.epochs}, ` : '') +
      `${r.steps} events, ended at ${r.endTimeMs.toFixed(0)}ms, trace ${r.traceHash.slice(0, 16)}`,
  );
  for (const [type, s] of Object.entries(r.perBlock))
    out(`  per block: ${type.padEnd(12)} ${s.count.toFixed(1)} msgs  ${s.bytes.toFixed(0)} bytes`);
  if (r.viewChangeDurations.length > 0)
    out(`  view changes took ${r.viewChangeDurations.map((d) => `${d.toFixed(0)}ms`).join(', ')}`);
  for (const v of r.violations)
    out(
      `VIOLATION ${v.kind} at ${v.time.toFixed(3)}ms${v.replica !== undefined ? ` replica ${v.replica}` : ''}${v.height !== undefined ? ` height ${v.height}` : ''}: ${v.detail}`,
    );
  if (r.violations.length > 0) out(`reproduce: ${r.reproduce}`);
}

export function isUsageError(e: unknown): e is Error {
  return (
    e instanceof UsageError ||
    (e instanceof Error && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))
  );
}

// Run only when executed (npm run sim), not when imported by the tests.
if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    if (!isUsageError(e)) throw e;
    console.error(`${e.message}\n${USAGE}`);
    process.exitCode = 2;
  }
}
