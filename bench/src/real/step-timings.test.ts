import t from 'tap';
import {
  formatSlowest,
  gcAndHeap,
  majorGcs,
  parseCounter,
  parseHistogram,
  STEP_METRICS,
  stepTimings,
  summariseDelta,
  trafficDelta,
  bytesPerTransaction,
  applyPhaseSeconds,
} from './step-timings.ts';

const BOUNDS = ['0.001', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2', '5', '+Inf'];

/** Prometheus text for one histogram from per-bucket (non-cumulative) counts. */
function histogram(name: string, perBucket: number[]): string {
  let c = 0;
  const lines = [`# HELP ${name} x`, `# TYPE ${name} histogram`];
  BOUNDS.forEach((le, i) => {
    c += perBucket[i] ?? 0;
    lines.push(`${name}_bucket{le="${le}"} ${c}`);
  });
  lines.push(`${name}_sum 1.5`, `${name}_count ${c}`);
  return lines.join('\n');
}

t.test('parses cumulative buckets, +Inf included, ignoring other metrics', async (t) => {
  const text = `${histogram('vigil_block_apply_seconds', [1, 2])}\n${histogram('vigil_other', [9])}`;
  const b = parseHistogram(text, 'vigil_block_apply_seconds');
  t.equal(b.size, BOUNDS.length);
  t.equal(b.get(0.001), 1);
  t.equal(b.get(0.005), 3);
  t.equal(b.get(Number.POSITIVE_INFINITY), 3);
});

t.test('the difference between two scrapes: counts, slow steps and the slowest bucket', async (t) => {
  const name = 'vigil_block_write_seconds';
  const before = parseHistogram(histogram(name, [5, 5]), name);
  // 10 more fast ones, 2 between 0.25 and 0.5 s, 1 between 1 and 2 s.
  const after = parseHistogram(histogram(name, [10, 10, 0, 0, 0, 0, 0, 2, 0, 1]), name);
  t.same(summariseDelta(before, after), { count: 13, over250ms: 3, over1s: 1, slowestAtMostS: 2 });
  t.same(summariseDelta(after, after), { count: 0, over250ms: 0, over1s: 0, slowestAtMostS: null });
  const beyond = parseHistogram(histogram(name, [10, 10, 0, 0, 0, 0, 0, 2, 0, 1, 0, 1]), name);
  t.equal(summariseDelta(after, beyond).slowestAtMostS, -1, 'beyond the largest bound');
  t.equal(formatSlowest(-1), '> 5 s');
  t.equal(formatSlowest(0.25), '<= 0.25 s');
  t.equal(formatSlowest(null), '-');
});

t.test('validators are added up; one that did not answer counts nothing', async (t) => {
  const apply = STEP_METRICS.blockApply;
  const a = { before: histogram(apply, [1]), after: histogram(apply, [1, 0, 0, 0, 0, 0, 4, 0, 1]) };
  const b = { before: histogram(apply, []), after: histogram(apply, [0, 0, 0, 3]) };
  const killed = { before: histogram(apply, [7]), after: '' };
  const s = stepTimings([a, b, killed]);
  t.same(s.blockApply, { count: 8, over250ms: 1, over1s: 0, slowestAtMostS: 1 });
  t.same(s.blockWrite, { count: 0, over250ms: 0, over1s: 0, slowestAtMostS: null });
});

t.test('major garbage collections are told apart from minor ones by their kind label', async (t) => {
  const gc = (major: number[], minor: number[]) =>
    [
      histogram('vigil_process_nodejs_gc_duration_seconds', major).replaceAll('{le=', '{kind="major",le='),
      histogram('vigil_process_nodejs_gc_duration_seconds', minor).replaceAll('{le=', '{kind="minor",le='),
    ].join('\n');
  const before = gc([0, 0, 0, 0, 0, 0, 2], [50]);
  const after = gc([0, 0, 0, 0, 0, 0, 3, 0, 0, 1], [90]);
  t.same(majorGcs([{ before, after }]), { count: 2, over1s: 1 });
});

t.test('GC pause seconds over a point and heap in use at its end, per validator', async (t) => {
  const scrape = (major: number, minor: number, heap: number) =>
    [
      'vigil_process_nodejs_gc_duration_seconds_sum{kind="major"} ' + major,
      'vigil_process_nodejs_gc_duration_seconds_sum{kind="minor"} ' + minor,
      'vigil_process_nodejs_heap_size_used_bytes ' + heap,
    ].join('\n');
  const a = { before: scrape(1, 2, 100 * 1024 * 1024), after: scrape(1.5, 2.25, 300 * 1024 * 1024) };
  const killed = { before: scrape(1, 1, 1), after: '' };
  t.same(gcAndHeap([a, killed]), { gcSeconds: [0.75, null], heapMiB: [300, null] });
});

t.test('traffic during a point: gossip outcomes, re-offers and bytes sent, all validators', async (t) => {
  const scrape = (admitted: number, dup: number, reoffered: number, consensusOut: number) =>
    [
      '# HELP vigil_tx_gossip_received_total x',
      '# TYPE vigil_tx_gossip_received_total counter',
      `vigil_tx_gossip_received_total{result="admitted"} ${admitted}`,
      `vigil_tx_gossip_received_total{result="DUPLICATE_TX"} ${dup}`,
      `vigil_tx_reoffered_total ${reoffered}`,
      `vigil_tx_reoffered_total_extra 99`,
      `vigil_p2p_messages_total{protocol="consensus",direction="out"} ${consensusOut}`,
      `vigil_p2p_messages_total{protocol="consensus",direction="in"} 1000`,
      `vigil_p2p_bytes_total{protocol="txgossip",direction="out"} ${10 * admitted}`,
    ].join('\n');
  const d = trafficDelta([
    { before: scrape(10, 0, 5, 100), after: scrape(30, 7, 9, 160) },
    { before: scrape(0, 0, 0, 0), after: scrape(5, 1, 0, 40) },
    // A validator that did not answer one of the scrapes counts nothing.
    { before: '', after: scrape(1_000, 1_000, 1_000, 1_000) },
  ]);
  t.same(d, {
    gossipReceived: 33,
    gossipAdmitted: 25,
    gossipRefused: { DUPLICATE_TX: 8 },
    reoffered: 4,
    messagesOut: { consensus: 100 },
    bytesOut: { txgossip: 250 },
    consensusBytesOut: {},
    compact: {},
    executed: 0,
  });
  t.same([...parseCounter(scrape(1, 2, 3, 4), 'vigil_tx_reoffered_total')], [['', 3]]);
});

t.test('bytes per committed transaction, by protocol and consensus message kind (ADR 0129)', async (t) => {
  const scrape = (executed: number, compactBytes: number, prePrepareBytes: number, fetched: number) =>
    [
      `vigil_tx_executed_total{status="accepted",code=""} ${executed}`,
      `vigil_tx_executed_total{status="rejected",code="NONCE_GAP"} 1`,
      `vigil_p2p_bytes_total{protocol="consensus",direction="out"} ${compactBytes + prePrepareBytes}`,
      `vigil_p2p_bytes_total{protocol="txgossip",direction="out"} ${executed * 300}`,
      `vigil_p2p_bytes_total{protocol="txfetch",direction="in"} 999999`,
      `vigil_p2p_consensus_bytes_total{kind="prePrepareCompact"} ${compactBytes}`,
      `vigil_p2p_consensus_bytes_total{kind="prePrepare"} ${prePrepareBytes}`,
      `vigil_p2p_compact_total{event="fetchedTxs"} ${fetched}`,
    ].join('\n');
  // Two validators: the one that applied more transactions during the point names the count.
  const d = trafficDelta([
    { before: scrape(100, 0, 1_000, 0), after: scrape(1_100, 34_000, 1_000, 5) },
    { before: scrape(100, 0, 0, 0), after: scrape(900, 0, 0, 2) },
  ]);
  t.equal(d.executed, 1_000);
  t.same(d.consensusBytesOut, { prePrepareCompact: 34_000, prePrepare: 0 });
  t.same(d.compact, { fetchedTxs: 7 });
  t.same(bytesPerTransaction(d), {
    total: Math.round((34_000 + 300_000 + 240_000) / 1_000),
    byProtocol: { consensus: 34, txgossip: 540 },
    consensusByKind: { prePrepareCompact: 34 },
  });
  t.equal(bytesPerTransaction({ ...d, executed: 0 }), undefined, 'nothing applied: no ratio');
});

t.test(
  'seconds per phase of block application over a point, all validators; a silent one adds nothing',
  async (t) => {
    const sums = (w: number, e: number) =>
      [
        'vigil_block_apply_phase_seconds_sum{phase="wait"} ' + w,
        'vigil_block_apply_phase_seconds_sum{phase="execute"} ' + e,
        'vigil_block_apply_phase_seconds_count{phase="execute"} 99',
        'vigil_block_apply_seconds_sum 1000',
      ].join('\n');
    t.same(
      applyPhaseSeconds([
        { before: sums(1, 10), after: sums(1.5, 12.25) },
        { before: sums(0, 0), after: sums(0.25, 3) },
        { before: sums(0, 0), after: '' },
      ]),
      { wait: 0.75, execute: 5.25 },
    );
    t.same(applyPhaseSeconds([{ before: '', after: '' }]), {}, 'nodes without the metric: nothing');
  },
);
