import t from 'tap';
import { ceilingSentence, fmt, fmtLatency, fmtSpread, renderReport, table } from './report.ts';
import { medianRun } from './real/real-bench.ts';
import { spread } from './stats.ts';
import { fixtureRecord, point } from './test-fixture.ts';

t.test('formatting helpers', async (t) => {
  t.equal(fmt(1234.5), '1,235');
  t.equal(fmt(1.25, 1), '1.3');
  t.equal(fmt(Number.NaN), '-');
  t.equal(fmt(null), '-');
  t.equal(fmtSpread({ min: 1, median: 2, max: 3, n: 3 }), '2 (1-3)');
  t.equal(fmtSpread({ min: 2, median: 2, max: 2, n: 1 }), '2');
  t.equal(fmtSpread({ min: Number.NaN, median: Number.NaN, max: Number.NaN, n: 0 }), '-');
  // A p99 that fell on a lost transaction: Infinity in memory, null after a round trip through JSON.
  t.equal(fmtSpread({ min: 300, median: 400, max: Number.POSITIVE_INFINITY, n: 3 }), '400 (300-∞)');
  const json = JSON.parse(JSON.stringify({ min: 300, median: 400, max: Number.POSITIVE_INFINITY, n: 3 }));
  t.equal(fmtSpread(json), '400 (300-∞)');
  t.equal(fmtLatency(null, { notCommitted: 12, measured: 1000 }), '∞');
  t.equal(fmtLatency(Number.NaN, { notCommitted: 0, measured: 0 }), '-');
  t.equal(fmtLatency(812.4, { notCommitted: 3, measured: 1000 }), '812');
  t.equal(table(['a', 'b'], [['1', '2']]), '| a | b |\n| --- | ---: |\n| 1 | 2 |');
});

t.test('the report has the headline, every sweep point, the simulator tables and its charts', async (t) => {
  const r = fixtureRecord();
  const rep = renderReport(r, 'bench/results/quick-x.json', 'quick-x');
  const md = rep.markdown;
  t.match(md, /^# Vigil benchmark report \(quick run\)/);
  t.match(
    renderReport(r, 'bench/results/full-x.partial.json', 'full-x.partial').markdown,
    /^# Vigil benchmark report \(quick run, partial: the run stopped before its end/,
    'a partial record says so',
  );
  t.match(md, /Test CPU, 2 cores, Node v24\.0\.0/);
  t.match(md, new RegExp(`commit \`${'a'.repeat(40)}\``));
  t.match(md, /\| n=4 sustained throughput below the knee \(tx\/s\) \| 171 \|/);
  t.match(md, /\| n=4 fraction of ceiling \| 3\.4 % \| >= 75 % \|/);
  t.match(md, /\| commits resume after killing the primary \(ms\) \| 1,800 \| <= 2,000 \|/);
  for (const offered of ['100', '200', '400'])
    t.match(md, new RegExp(`\\n\\| ${offered} \\| `), `sweep row ${offered}`);
  t.match(md, /ACCOUNT_LIMIT: 3/);
  t.match(
    md,
    /\| 7\.4 s, 3,850 txs drained, 120 resent \|\n/,
    'the 400 tx/s point started on a drained backlog',
  );
  t.match(md, /\| 0\.0 s \|\n/, 'an idle start is just the check');
  t.match(
    md,
    /\| apply 3 \(1\), persist 2 \(0\) \| 6,000 \(1,200\), 1,200 \| 25\.0 \/ 16\.0 \| 7\.4 s/,
    'slow steps and traffic of the overloaded point',
  );
  t.match(md, /\| none \| 3,000 \(0\), 0 \| 25\.0 \/ 8\.0 \| 0\.0 s \|\n/, 'no slow step, no refused copy');
  t.match(md, /\| none \| - \| - \| 0\.0 s \|\n/, 'a point recorded before the traffic counters');
  t.match(md, /Views seen on a survivor \(ms after the kill: view\): -2000: 0, 1300: 1\./);
  t.match(md, /Knee: 200 tx\/s offered; first saturated point 400 tx\/s/);
  t.match(md, /- a caveat/);
  t.match(md, /\| 4 \| 10 \| 1 \| 10\.0 \| 400 \|/, 'the silent-replica point');
  t.match(md, /PREPARE msgs \/ bytes/);
  t.notMatch(md, /NaN|undefined|\[object/);
  t.same(Object.keys(rep.charts).sort(), [
    'quick-x-real-n4-loopback.svg',
    'quick-x-sim-bytes.svg',
    'quick-x-sim-latency.svg',
    'quick-x-sim-throughput.svg',
  ]);
  for (const name of Object.keys(rep.charts)) t.match(md, `](${name})`, `${name} is linked`);
  t.same(renderReport(r, 'bench/results/quick-x.json', 'quick-x'), rep, 'a pure function of the record');
});

t.test('errors of the run are listed; a record without sim or node still renders', async (t) => {
  const r = fixtureRecord();
  r.errors.push('sim: boom');
  r.real[0]!.errors.push('sync: SYNC_TIMEOUT');
  r.sim = null;
  r.node = null;
  const md = renderReport(r, 'x.json', 'x').markdown;
  t.match(md, /- sim: boom/);
  t.match(md, /- real n=4 loopback: sync: SYNC_TIMEOUT/);
  t.notMatch(md, /## Simulated/);
  t.notMatch(md, /NaN|undefined/);
});

t.test('repeated points show median (min-max); repeated fault runs are summarised', async (t) => {
  const r = fixtureRecord();
  const x = r.real[0]!;
  x.config = { ...x.config, pointRepeats: 3, repeats: 3 };
  x.sweep = [
    medianRun([
      { ...point(200, 60, 400), committedTxPerSec: 190 },
      { ...point(200, 50, 300), committedTxPerSec: 199 },
      { ...point(200, 80, 900), committedTxPerSec: 120 },
    ]),
  ];
  const vc = x.viewChange!;
  const sy = x.sync!;
  x.faultRuns = {
    viewChange: [vc, { ...vc, resumeMs: 1_200 }, { ...vc, resumeMs: null }],
    resumeMs: spread([1_800, 1_200, Number.NaN]),
    sync: [sy, { ...sy, txPerSec: 3_000 }, { ...sy, txPerSec: 5_000 }],
    syncTxPerSec: spread([4_000, 3_000, 5_000]),
  };
  const md = renderReport(r, 'x.json', 'x').markdown;
  t.match(md, /Each point was run 3 times from an idle network/);
  t.match(md, /\n\| 200 \| 190 \(120-199\) \| [\d.]+ \| 60 \(50-80\) \| \d+ \| 400 \(300-900\) \|/);
  t.match(
    md,
    /commits resumed 1,500 \(1,200-1,800\) ms after the kill in 2 of 3 run\(s\) \(never within the run: 1\)/,
  );
  t.match(md, /catch-up 4,000 \(3,000-5,000\) tx\/s in 3 run\(s\)/);
  t.notMatch(md, /NaN|undefined/);
});

t.test('the profiled run below the knee names the largest share as the bottleneck', async (t) => {
  const r = fixtureRecord();
  r.bottleneck = {
    network: 'n4-loopback',
    offeredTxPerSec: 720,
    seconds: 8,
    committedTxPerSec: 712,
    p99LatencyMs: 240,
    threads: 12,
    busySamples: 20_000,
    startupSamples: 1_500,
    components: [
      { name: 'ed25519 signature checks', samples: 5_000, share: 0.25 },
      { name: 'state tree (Merkle updates, hashing)', samples: 3_000, share: 0.15 },
    ],
    topFunctions: [{ name: 'verifyOneShot sig:259', samples: 4_000, share: 0.2 }],
  };
  const md = renderReport(r, 'x.json', 'x').markdown;
  t.match(md, /## Where the validators' CPU goes \(n = 4, below the knee\)/);
  t.match(
    md,
    /not met \([\d.]+ %\); the largest share of validator CPU is \*\*ed25519 signature checks, 25\.0 %\*\*/,
  );
  t.match(md, /of which 1,500 loading and compiling modules at start-up are left out/);
  t.match(md, /\| state tree \(Merkle updates, hashing\) \| 15\.0 % \|/);
  t.match(md, /\| `verifyOneShot sig:259` \| 20\.0 % \|/);
  t.notMatch(md, /NaN|undefined/);
  delete r.bottleneck;
  t.notMatch(renderReport(r, 'x.json', 'x').markdown, /CPU goes/, 'older records: no section');
});

t.test('the CPU budget per transaction: out of reach when execution alone exceeds it', async (t) => {
  const r = fixtureRecord();
  // 2 cores at 20,000 verifications/s: 133 µs per transaction at the target; 171 tx/s committed on
  // 0.4 cores per validator is 2,339 µs; one node spends 200 µs executing alone.
  r.node = { ...r.node!, raw: { processCpuMsPerBlock: 200, txsPerBlock: 1_000 } };
  let md = renderReport(r, 'x.json', 'x').markdown;
  t.match(md, /## CPU budget per transaction \(n = 4, loopback\)/);
  t.match(md, /2 \/ 4 cores for 3,750 tx\/s: 133 µs of CPU per transaction/);
  t.match(md, /\| budget at 75 % of the ceiling \| 133 µs \| 3,750 \|/);
  t.match(md, /\| one signature check \(all cores verifying\) \| 100 µs \| 5,000 \|/);
  t.match(md, /executing blocks alone .* \| 200 µs \| 2,500 \|/);
  t.match(md, /\| spent per committed transaction below the knee \(1 run\(s\)\) \| 2,339 µs \| 214 \|/);
  t.match(md, /already takes 1\.5 times the whole budget, so the target is out of reach/);
  t.notMatch(md, /Catch-up at 20,000/, 'no catch-up figures in the record: no sentence');
  r.real[0]!.sync!.nodeSync = { seconds: 2.5, applySeconds: 2, blocks: 100, transactions: 8_000 };
  r.node = { ...r.node!, raw: { ...r.node!.raw, txPerSecondWithoutSignatureChecks: 12_500 } };
  md = renderReport(r, 'x.json', 'x').markdown;
  t.match(
    md,
    /The restarted node applied its gap at 250 µs per transaction .* without signature checks \(`bench -- node`\) takes 80 µs\./,
  );
  t.notMatch(md, /NaN|undefined/);
  // Cheap execution: the gap is the rest of the validator's work.
  r.node = { ...r.node!, raw: { processCpuMsPerBlock: 120, txsPerBlock: 1_000 } };
  md = renderReport(r, 'x.json', 'x').markdown;
  t.match(md, /Execution alone fits the budget; the validators spent 17\.5 times it/);
  // Records without the node's CPU (older ones) still get the budget and what was spent.
  r.node = { ...r.node!, raw: {} };
  md = renderReport(r, 'x.json', 'x').markdown;
  t.match(md, /executing blocks alone .* \| - \| - \|/);
  t.notMatch(md, /NaN|undefined/);
});

t.test("catch-up: the node's own account of its block sync when the record has it", async (t) => {
  const r = fixtureRecord();
  t.match(
    renderReport(r, 'x.json', 'x').markdown,
    /caught up 3,000 ms after the restart, 500 ms after its first progress: 80\.0 blocks\/s, 4,000 tx\/s/,
    'older records: the polled rate',
  );
  r.real![0]!.sync = {
    ...r.real![0]!.sync!,
    nodeSync: { seconds: 0.25, applySeconds: 0.2, blocks: 40, transactions: 2_000 },
    blocksPerSec: 160,
    txPerSec: 8_000,
  };
  t.match(
    renderReport(r, 'x.json', 'x').markdown,
    /its block sync applied 40 blocks \/ 2,000 transactions in 250 ms, 200 ms of it applying \(its own account, vigil_sync_\*\): 160\.0 blocks\/s, 8,000 tx\/s/,
  );
});

t.test(
  'the report says how the ceiling was measured: every sample, or one reading in older records',
  async (t) => {
    const r = fixtureRecord();
    delete r.ceiling.samples;
    t.match(ceilingSentence(r), /measured once, at the start of the run/);
    r.ceiling.samples = [
      { label: 'start', at: '2026-12-05T18:18:30.000Z', rawVerifyPerSec: 11_874, cpuUsPerSignature: 151.7 },
      {
        label: 'before n4-loopback',
        at: '2026-12-05T18:23:00.000Z',
        rawVerifyPerSec: 18_900,
        cpuUsPerSignature: 97,
      },
      { label: 'end', at: '2026-12-05T19:31:00.000Z', rawVerifyPerSec: 19_400, cpuUsPerSignature: 95 },
    ];
    r.ceiling.rawVerifyPerSec = 18_900;
    const text = ceilingSentence(r);
    t.match(text, /median of 3 sample\(s\)/);
    t.match(text, /18,900\/s \(11,874-19,400\)/);
    t.match(text, /start 11,874\/s \(152 µs of CPU each\), before n4-loopback 18,900\/s/);
    t.match(renderReport(r, 'bench/results/full-x.json', 'full-x').markdown, /median of 3 sample\(s\)/);
  },
);
