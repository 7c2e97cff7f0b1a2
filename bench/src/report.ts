// The Markdown report of a suite run (bench/results/<record>.md) with its SVG charts. A pure function
// of the record: re-rendering an old record gives the same report.
import type { SettleResult } from './real/settle.ts';
import type { StepName, StepTimings, TrafficDelta } from './real/step-timings.ts';
import { cpuBudget } from './cpu-budget.ts';
import type { RealResult } from './real/real-bench.ts';
import type { BenchRecord } from './record.ts';
import { ceilingTxPerSec, summarise } from './record.ts';
import type { Spread } from './stats.ts';
import { barChart, lineChart } from './svg.ts';

export interface Report {
  markdown: string;
  /** File name (relative to the report) -> SVG text. */
  charts: Record<string, string>;
}

export function fmt(x: number | null | undefined, digits = 0): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return x.toLocaleString('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * "median (min-max)". A spread leaves NaN out (stats.ts spread), so a part that is not a finite number
 * although values were counted is +Infinity (null once written to JSON): a latency percentile that fell
 * on a transaction that never committed, shown as "∞".
 */
export function fmtSpread(s: Spread | undefined, digits = 0): string {
  if (s === undefined || s.n === 0) return '-';
  const f = (x: number | null) => (x === null || x === Number.POSITIVE_INFINITY ? '∞' : fmt(x, digits));
  if (s.n === 1) return f(s.median);
  return `${f(s.median)} (${f(s.min)}-${f(s.max)})`;
}

/**
 * A point's latency percentile: "∞" when it fell on a transaction that never committed (Infinity, null
 * in JSON; sensor-client/src/load/stats.ts), "-" when nothing was measured.
 */
export function fmtLatency(
  x: number | null | undefined,
  p: { notCommitted: number; measured: number },
): string {
  if (x !== null && x !== undefined && Number.isFinite(x)) return fmt(x);
  return p.measured > 0 && p.notCommitted > 0 ? '∞' : '-';
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** "52168 (1768), 1768": gossip copies received (refused by admission), re-offers sent, all validators. */
function gossipCell(x: TrafficDelta): string {
  const refused = Object.values(x.gossipRefused).reduce((a, n) => a + n, 0);
  return `${fmt(x.gossipReceived)} (${fmt(refused)}), ${fmt(x.reoffered)}`;
}

/** "apply 3 (1), persist 2 (0)": steps over 0.25 s (over 1 s) during a point, or "none". */
function slowSteps(steps: StepTimings): string {
  const short: Record<StepName, string> = {
    blockApply: 'apply',
    blockWrite: 'write',
    consensusPersist: 'persist',
  };
  const parts = (Object.keys(short) as StepName[])
    .filter((k) => steps[k].over250ms > 0)
    .map((k) => `${short[k]} ${steps[k].over250ms} (${steps[k].over1s})`);
  return parts.join(', ') || 'none';
}

/** Mean storage writes per validator, MiB/s ("-": not readable, or the record predates them). */
function diskWritesCell(validators: readonly { diskWriteMiBPerSec?: number }[]): string {
  return fmt(mean(validators.map((v) => v.diskWriteMiBPerSec ?? Number.NaN)), 1);
}

/** The profiled run below the n = 4 knee: the bottleneck named, its share, and the rest. */
function bottleneckSection(b: NonNullable<BenchRecord['bottleneck']>, fraction: number | null): string[] {
  const pct = (x: number) => `${fmt(100 * x, 1)} %`;
  const top = b.components[0];
  const met = fraction !== null && fraction >= 0.75;
  const verdict =
    fraction === null
      ? 'No n = 4 throughput was measured to compare with the target.'
      : `The throughput target (75 % of the ceiling) is ${met ? 'met' : `not met (${pct(fraction)})`}${
          top ? `; the largest share of validator CPU is **${top.name}, ${pct(top.share)}**` : ''
        }.`;
  return [
    "## Where the validators' CPU goes (n = 4, below the knee)",
    '',
    `Every validator under \`node --cpu-prof\` in a separate run of ${fmt(b.seconds)} s at ${fmt(b.offeredTxPerSec)} tx/s offered (committed ${fmt(b.committedTxPerSec)} tx/s, p99 ${fmt(b.p99LatencyMs)} ms, the profiler's cost included): ${fmt(b.busySamples)} busy samples of ${fmt(b.threads)} threads (main threads and verification workers), of which ${fmt(b.startupSamples)} loading and compiling modules at start-up are left out; each other sample is given to the innermost frame that names a kind of work (bench/src/cpu-components.ts). ${verdict}`,
    '',
    table(
      ['kind of work', 'share of busy samples'],
      b.components.map((c) => [c.name, pct(c.share)]),
    ),
    '',
    'Largest self times by function:',
    '',
    table(
      ['function', 'share of busy samples'],
      b.topFunctions.map((f) => [`\`${f.name}\``, pct(f.share)]),
    ),
    '',
  ];
}

/** The throughput target's CPU budget per transaction against what the run spent (cpu-budget.ts). */
function budgetSection(r: BenchRecord, x: RealResult): string[] {
  const below = x.belowKnee?.repeats.filter((p) => p.measured > 0) ?? [];
  const kneePoint = x.sweep.find((p) => p.offeredTxPerSec === x.knee.kneeTxPerSec);
  const measured = below.length > 0 ? below : kneePoint ? [kneePoint] : [];
  const raw = r.node?.raw as
    | { processCpuMsPerBlock?: unknown; txsPerBlock?: unknown; stateRootInterval?: unknown }
    | undefined;
  const k =
    typeof raw?.stateRootInterval === 'number' ? `, state root every ${raw.stateRootInterval} block(s)` : '';
  const exec =
    typeof raw?.processCpuMsPerBlock === 'number' && typeof raw.txsPerBlock === 'number'
      ? { processCpuMsPerBlock: raw.processCpuMsPerBlock, txsPerBlock: raw.txsPerBlock }
      : null;
  const b = cpuBudget({
    cores: r.machine.cores,
    rawVerifyPerSec: r.ceiling.rawVerifyPerSec,
    targetFraction: 0.75,
    validators: x.n,
    runs: measured.map((p) => ({
      committedTxPerSec: p.committedTxPerSec,
      validatorCores: p.validators.map((v) => v.cpuCores),
    })),
    nodeExec: exec,
  });
  if (b === null) return [];
  const us = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${fmt(v)} µs`);
  const where = below.length > 0 ? `below the knee (${below.length} run(s))` : 'at the knee point';
  const rows: string[][] = [
    ['budget at 75 % of the ceiling', us(b.budgetUs), fmt(b.targetTxPerSec)],
    ['one signature check (all cores verifying)', us(b.verifyUs), fmt(r.ceiling.rawVerifyPerSec / x.n)],
    [
      `one node executing blocks alone (\`bench -- node\`: no consensus, network or HTTP${k})`,
      us(b.nodeExecUs),
      fmt(b.capacityAtNodeExecTxPerSec),
    ],
    [
      `spent per committed transaction ${where}`,
      b.spentUs ? `${fmtSpread(b.spentUs)} µs` : '-',
      fmt(b.capacityAtSpentTxPerSec),
    ],
  ];
  let verdict: string;
  if (b.nodeExecUs !== null && b.nodeExecUs > b.budgetUs) {
    verdict = `Executing blocks alone already takes ${fmt(b.nodeExecUs / b.budgetUs, 1)} times the whole budget, so the target is out of reach on this machine at today's execution cost, before any consensus, network or HTTP work: execution besides the signature check costs ${us(b.nodeExecUs - b.verifyUs)} per transaction and would have to fit in ${us(b.budgetBesidesVerifyUs)} with nothing else left over.`;
  } else if (b.spentUs !== null && b.spentUs.median > b.budgetUs) {
    verdict = `Execution alone fits the budget; the validators spent ${fmt(b.spentUs.median / b.budgetUs, 1)} times it, and what lies between (${us(b.spentUs.median - (b.nodeExecUs ?? b.verifyUs))} per transaction) is consensus, network, admission and HTTP work.`;
  } else {
    verdict = 'The validators spent no more than the budget per transaction.';
  }
  // Catch-up (>= 20,000 tx/s): 50 µs of wall time per transaction for the restarted node.
  const sync = x.sync?.nodeSync;
  const applyUs =
    sync && sync.transactions > 0 && sync.applySeconds !== undefined
      ? (1e6 * sync.applySeconds) / sync.transactions
      : null;
  const trusted = (r.node?.raw as { txPerSecondWithoutSignatureChecks?: unknown } | undefined)
    ?.txPerSecondWithoutSignatureChecks;
  const warmUs = typeof trusted === 'number' && trusted > 0 ? 1e6 / trusted : null;
  const catchUp =
    applyUs === null && warmUs === null
      ? []
      : [
          `Catch-up at 20,000 tx/s leaves 50 µs of wall time per transaction. The restarted node applied its gap at ${us(applyUs)} per transaction (its own account: apply time / transactions, from a cold start); one warm node executing blocks one at a time without signature checks (\`bench -- node\`) takes ${us(warmUs)}.`,
          '',
        ];
  return [
    `## CPU budget per transaction (n = ${x.n}, ${x.condition})`,
    '',
    `At 75 % of the ceiling each of the ${x.n} validators has ${fmt(r.machine.cores)} / ${x.n} cores for ${fmt(b.targetTxPerSec)} tx/s: ${us(b.budgetUs)} of CPU per transaction (4/3 of one signature check, whatever the number of validators), which leaves ${us(b.budgetBesidesVerifyUs)} for everything else a validator does for a transaction: admission, gossip, consensus, execution, storage, HTTP, and its share of the load generator (bench/src/cpu-budget.ts). The last column is the rate ${x.n} validators could sustain on ${fmt(r.machine.cores)} cores if each spent that much per transaction.`,
    '',
    table(['', 'CPU per transaction per validator', `tx/s on ${fmt(r.machine.cores)} cores`], rows),
    '',
    verdict,
    '',
    ...catchUp,
  ];
}

/** A point's start: the wait for idle mempools and the backlog it cleared ("-": record predates it). */
function settledBefore(s: SettleResult | undefined): string {
  if (s === undefined) return '-';
  const before = sum(s.backlogBefore);
  const wait = `${fmt(s.settleMs / 1000, 1)} s`;
  if (!s.idle) return `${wait}, NOT idle: ${fmt(before)} -> ${fmt(sum(s.backlogAfter))} txs`;
  return before === 0 && s.resent === 0
    ? wait
    : `${wait}, ${fmt(before)} txs drained, ${fmt(s.resent)} resent`;
}

/** How the run's ceiling was measured: its samples, or the one reading of older records. */
export function ceilingSentence(r: BenchRecord): string {
  const samples = r.ceiling.samples ?? [];
  if (samples.length === 0)
    return `The ceiling's raw verification rate was measured once, at the start of the run (${fmt(r.ceiling.rawVerifyPerSec)}/s): records before 2026-12-05 19:45 have no other sample.`;
  const rates = samples.map((x) => x.rawVerifyPerSec);
  const list = samples
    .map(
      (x) =>
        `${x.label} ${fmt(x.rawVerifyPerSec)}/s${Number.isFinite(x.cpuUsPerSignature) ? ` (${fmt(x.cpuUsPerSignature)} µs of CPU each)` : ''}`,
    )
    .join(', ');
  return `The ceiling's raw verification rate is the median of ${samples.length} sample(s) taken during the run, ${fmt(r.ceiling.rawVerifyPerSec)}/s (${fmt(Math.min(...rates))}-${fmt(Math.max(...rates))}): ${list}. \`bench -- node\` compares execution with its own sample ("start").`;
}

export function renderReport(r: BenchRecord, recordFile: string, chartPrefix: string): Report {
  const charts: Record<string, string> = {};
  const s = summarise(r, recordFile);
  const out: string[] = [];
  // The suite's `.partial.json` records are written during a run: one that stopped early leaves only that.
  const partial = recordFile.endsWith('.partial.json')
    ? ', partial: the run stopped before its end, so the last network may lack measurements'
    : '';
  out.push(`# Vigil benchmark report (${r.mode} run${partial})`);
  out.push('');
  out.push(
    `Run ${r.startedAt} to ${r.finishedAt} (${fmt(r.wallSeconds)} s) on ${r.machine.cpuModel}, ${r.machine.cores} cores, Node ${r.machine.node}; commit \`${r.gitCommit ?? 'unknown'}\`${r.gitDirty ? ' (working tree had uncommitted changes)' : ''}; seed ${r.seed}; load average at start ${r.machine.loadAverage.map((x) => x.toFixed(2)).join(' ')}. Record: \`${recordFile}\`. Command: \`${r.command}\`.`,
  );
  out.push('');
  out.push('## Headline');
  out.push('');
  const n4 = s.real.n4;
  out.push(
    table(
      ['quantity', 'measured', 'target'],
      [
        ['n=4 sustained throughput below the knee (tx/s)', fmt(n4?.throughputTxPerSec), '-'],
        ['n=4 best committed rate of any sweep point (tx/s)', fmt(n4?.maxCommittedTxPerSec), '-'],
        ['n=4 physical ceiling (raw verifies/s / 4)', fmt(n4?.ceilingTxPerSec), '-'],
        [
          'n=4 fraction of ceiling',
          n4?.fractionOfCeiling != null ? `${fmt(100 * n4.fractionOfCeiling, 1)} %` : '-',
          '>= 75 %',
        ],
        [
          'n=4 p50 / p99 latency below the knee (ms)',
          `${fmt(n4?.p50LatencyMs)} / ${fmt(n4?.p99LatencyMs)}`,
          'p99 <= 1,000',
        ],
        ['commits resume after killing the primary (ms)', fmt(s.viewChange.resumeMs), '<= 2,000'],
        ['restarted node catch-up (tx/s)', fmt(s.sync.txPerSec), '>= 20,000'],
        ['one node, execution with signatures (tx/s)', fmt(s.node.execTxPerSec), '-'],
        ['raw ed25519 verifications, all cores (/s)', fmt(s.node.rawVerifyPerSec), '-'],
      ],
    ),
  );
  out.push('');
  out.push(ceilingSentence(r));
  out.push('');
  if (r.errors.length > 0 || r.real.some((x) => x.errors.length > 0)) {
    out.push('Errors during the run:');
    out.push('');
    for (const e of [
      ...r.errors,
      ...r.real.flatMap((x) => x.errors.map((m) => `real n=${x.n} ${x.condition}: ${m}`)),
    ])
      out.push(`- ${e}`);
    out.push('');
  }

  out.push('## Real networks (validator processes on loopback)');
  out.push('');
  for (const x of r.real) {
    const ceiling = ceilingTxPerSec(r.ceiling.rawVerifyPerSec, x.n);
    out.push(`### n = ${x.n}, ${x.condition}`);
    out.push('');
    out.push(
      `Started and meshed in ${fmt(x.startupMs / 1000, 1)} s. Faults: ${x.faults ? `\`${JSON.stringify(x.faults)}\`` : 'none'}. State-root interval k = ${x.config.stateRootInterval ?? 1} (ADR 0117). Ceiling ${fmt(ceiling)} tx/s (${fmt(r.ceiling.rawVerifyPerSec)} raw verifications/s shared by ${x.n} validators). Knee: ${fmt(x.knee.kneeTxPerSec)} tx/s offered; first saturated point ${fmt(x.knee.saturatedAtTxPerSec)} tx/s; best committed ${fmt(x.knee.maxCommittedTxPerSec)} tx/s.`,
    );
    out.push('');
    if (x.sweep.some((p) => p.runs)) {
      out.push(
        `Each point was run ${x.config.pointRepeats} times from an idle network; committed, p50 and p99 are median (min-max) over the runs, the other columns and the chart are the median run's.`,
      );
      out.push('');
    }
    out.push(
      table(
        [
          'offered tx/s',
          'committed tx/s',
          '% of ceiling',
          'p50 ms',
          'p90 ms',
          'p99 ms',
          'lost',
          'rejected',
          'CPU cores/validator',
          'RSS MiB/validator',
          'disk writes MiB/s/validator',
          'views after',
          'steps > 0.25 s (> 1 s)',
          'gossip in (refused), re-offers',
          'MB sent: consensus / gossip',
          'settled before',
        ],
        x.sweep.map((p) => [
          fmt(p.offeredTxPerSec),
          p.runs ? fmtSpread(p.runs.committedTxPerSec) : fmt(p.committedTxPerSec),
          fmt((100 * p.committedTxPerSec) / ceiling, 1),
          p.runs ? fmtSpread(p.runs.p50LatencyMs) : fmtLatency(p.p50LatencyMs, p),
          fmtLatency(p.p90LatencyMs, p),
          p.runs ? fmtSpread(p.runs.p99LatencyMs) : fmtLatency(p.p99LatencyMs, p),
          `${p.notCommitted}/${p.measured}`,
          Object.entries(p.rejected)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', ') || '-',
          fmt(mean(p.validators.map((v) => v.cpuCores)), 2),
          fmt(mean(p.validators.map((v) => v.rssMiB))),
          diskWritesCell(p.validators),
          p.viewsAfter?.map((v) => v.view ?? '?').join(' ') ?? '-',
          p.steps ? slowSteps(p.steps) : '-',
          p.traffic ? gossipCell(p.traffic) : '-',
          p.traffic
            ? `${fmt((p.traffic.bytesOut.consensus ?? 0) / 1e6, 1)} / ${fmt((p.traffic.bytesOut.txgossip ?? 0) / 1e6, 1)}`
            : '-',
          settledBefore(p.settle),
        ]),
      ),
    );
    out.push('');
    if (x.belowKnee) {
      const b = x.belowKnee;
      out.push(
        `Below the knee, ${fmt(b.offeredTxPerSec)} tx/s offered, ${b.repeats.length} repeat(s) of ${x.config.sustainedS} s (median (min-max)): committed ${fmtSpread(b.throughputTxPerSec)} tx/s, p50 ${fmtSpread(b.p50LatencyMs)} ms, p99 ${fmtSpread(b.p99LatencyMs)} ms.`,
      );
      out.push('');
    }
    if (x.viewChange) {
      const v = x.viewChange;
      out.push(
        `Primary killed (validator ${v.killedPrimary}, SIGKILL) under ${fmt(v.offeredTxPerSec)} tx/s: first block on a survivor ${fmt(v.firstBlockAfterKillMs)} ms later; first block holding a transaction sent after the kill ${fmt(v.resumeMs)} ms later (view-change timeout ${fmt(v.viewChangeTimeoutMs)} ms; view afterwards ${v.viewAfter ?? '-'}). Views seen on a survivor (ms after the kill: view): ${(v.timeline ?? []).map((p) => `${p.atMs}: ${p.view}`).join(', ') || '-'}.`,
      );
      out.push('');
    }
    if (x.sync) {
      const y = x.sync;
      out.push(
        y.nodeSync
          ? `Catch-up of validator ${y.node} after a restart: ${y.gapBlocks} blocks / ${y.gapTxs} transactions behind; caught up ${fmt(y.fromRestartMs)} ms after the restart; its block sync applied ${fmt(y.nodeSync.blocks)} blocks / ${fmt(y.nodeSync.transactions)} transactions in ${fmt(1000 * y.nodeSync.seconds)} ms${y.nodeSync.applySeconds !== undefined ? `, ${fmt(1000 * y.nodeSync.applySeconds)} ms of it applying` : ''} (its own account, vigil_sync_*): ${fmt(y.blocksPerSec, 1)} blocks/s, ${fmt(y.txPerSec)} tx/s.`
          : `Catch-up of validator ${y.node} after a restart: ${y.gapBlocks} blocks / ${y.gapTxs} transactions behind; caught up ${fmt(y.fromRestartMs)} ms after the restart, ${fmt(y.fromFirstProgressMs)} ms after its first progress: ${fmt(y.blocksPerSec, 1)} blocks/s, ${fmt(y.txPerSec)} tx/s.`,
      );
      out.push('');
    }
    const fr = x.faultRuns;
    if (fr && (fr.viewChange.length > 1 || fr.sync.length > 1)) {
      out.push(
        `Over all runs (median (min-max); the sentences above describe the median run): commits resumed ${fmtSpread(fr.resumeMs)} ms after the kill in ${fr.resumeMs.n} of ${fr.viewChange.length} run(s) (never within the run: ${fr.viewChange.length - fr.resumeMs.n}); catch-up ${fmtSpread(fr.syncTxPerSec)} tx/s in ${fr.sync.length} run(s).`,
      );
      out.push('');
    }
    if (x.sweep.length > 0) {
      const name = `${chartPrefix}-real-n${x.n}-${x.condition.replace(/[^a-z0-9]+/gi, '-')}.svg`;
      charts[name] = lineChart({
        title: `n=${x.n}, ${x.condition}: committed throughput and p99 latency vs offered load`,
        xLabel: 'offered tx/s',
        yLabel: 'tx/s  |  ms',
        series: [
          { name: 'committed tx/s', points: x.sweep.map((p) => [p.offeredTxPerSec, p.committedTxPerSec]) },
          { name: 'p99 latency ms', points: x.sweep.map((p) => [p.offeredTxPerSec, p.p99LatencyMs]) },
          { name: 'offered = committed', points: x.sweep.map((p) => [p.offeredTxPerSec, p.offeredTxPerSec]) },
        ],
      });
      out.push(`![n=${x.n} ${x.condition}](${name})`);
      out.push('');
    }
  }

  if (r.bottleneck) out.push(...bottleneckSection(r.bottleneck, n4?.fractionOfCeiling ?? null));
  const n4Net = r.real.find((x) => x.n === 4 && x.condition === 'loopback');
  if (n4Net) out.push(...budgetSection(r, n4Net));

  if (r.node) {
    out.push('## One node: execution with signature checks');
    out.push('');
    out.push(
      `\`npm run bench -- node\` in the same run: ${fmt(r.node.execTxPerSec)} tx/s executed (1,000-tx blocks, signatures through the worker pool) against ${fmt(r.node.rawVerifyPerSec)} raw verifications/s on all cores (${fmt(100 * r.node.ratio, 1)} %).`,
    );
    out.push('');
  }

  if (r.sim) {
    const sim = r.sim;
    out.push('## Simulated (deterministic simulator, metered ed25519 costs)');
    out.push('');
    out.push(
      `Charged per signature: sign ${sim.calibration.signMs.toFixed(4)} ms, verify ${sim.calibration.verifyMs.toFixed(4)} ms (${sim.calibration.method}, measured in this run). ${sim.config.repeats} repeat(s) per point (seeds ${sim.config.seed}..${sim.config.seed + sim.config.repeats - 1}); median (min-max). Simulator wall time ${fmt(sim.wallMs / 1000, 1)} s.`,
    );
    out.push('');
    out.push('Caveats:');
    out.push('');
    for (const c of sim.caveats) out.push(`- ${c}`);
    out.push('');
    out.push(
      table(
        [
          'n',
          'batch',
          'silent',
          'txs/block reached',
          'capacity tx/s',
          'p50 ms (at half capacity)',
          'p99 ms',
          'violations',
        ],
        sim.points.map((p) => [
          String(p.n),
          String(p.batch),
          String(p.silent),
          fmt(mean(p.capacity.map((c) => c.meanTxsPerBlock)), 1),
          fmtSpread(p.throughputTxPerSec),
          fmtSpread(p.p50LatencyMs),
          fmtSpread(p.p99LatencyMs),
          String(
            p.capacity.reduce((a, c) => a + c.violations, 0) +
              p.latency.reduce((a, c) => a + c.violations, 0),
          ),
        ]),
      ),
    );
    out.push('');
    const types = [...new Set(sim.points.flatMap((p) => Object.keys(p.perBlock)))].sort();
    out.push('Messages and bytes per committed block, by type (no silent replicas):');
    out.push('');
    const clean = sim.points.filter((p) => p.silent === 0);
    out.push(
      table(
        ['n', 'batch', ...types.map((t) => `${t} msgs / bytes`)],
        clean.map((p) => [
          String(p.n),
          String(p.batch),
          ...types.map((t) =>
            p.perBlock[t] ? `${fmt(p.perBlock[t].count, 1)} / ${fmt(p.perBlock[t].bytes)}` : '-',
          ),
        ]),
      ),
    );
    out.push('');
    out.push(
      table(
        [
          'n',
          'view-change duration ms (leaving the view -> first commit in a later view)',
          'view-change timeout ms',
          'samples',
        ],
        sim.viewChange.map((v) => [
          String(v.n),
          fmtSpread(v.resumeMs, 1),
          fmt(v.viewChangeTimeoutMs),
          String(v.durationsMs.length),
        ]),
      ),
    );
    out.push('');
    const sizes = [...new Set(clean.map((p) => p.n))];
    const capName = `${chartPrefix}-sim-throughput.svg`;
    charts[capName] = lineChart({
      title: 'Simulated capacity vs batch size',
      xLabel: 'batch size (max txs per block)',
      yLabel: 'committed tx/s (virtual time)',
      logX: true,
      series: sizes.map((n) => ({
        name: `n=${n}`,
        points: clean.filter((p) => p.n === n).map((p) => [p.batch, p.throughputTxPerSec.median] as const),
      })),
    });
    const latName = `${chartPrefix}-sim-latency.svg`;
    charts[latName] = lineChart({
      title: 'Simulated p99 commit latency at half capacity',
      xLabel: 'batch size (max txs per block)',
      yLabel: 'p99 ms (virtual time)',
      logX: true,
      series: sizes.map((n) => ({
        name: `n=${n}`,
        points: clean.filter((p) => p.n === n).map((p) => [p.batch, p.p99LatencyMs.median] as const),
      })),
    });
    const batch = Math.max(...clean.map((p) => p.batch));
    const bytesName = `${chartPrefix}-sim-bytes.svg`;
    charts[bytesName] = barChart({
      title: `Bytes per committed block by message type (batch ${batch})`,
      yLabel: 'bytes per block',
      categories: sizes.map((n) => `n=${n}`),
      groups: types.map((t) => ({
        name: t,
        values: sizes.map((n) => clean.find((p) => p.n === n && p.batch === batch)?.perBlock[t]?.bytes ?? 0),
      })),
    });
    out.push(`![capacity](${capName})`);
    out.push('');
    out.push(`![latency](${latName})`);
    out.push('');
    out.push(`![bytes](${bytesName})`);
    out.push('');
  }
  return { markdown: `${out.join('\n')}\n`, charts };
}
