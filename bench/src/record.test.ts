import t from 'tap';
import { BenchError } from './errors.ts';
import { ceilingFromSamples, ceilingTxPerSec, summarise, validateLatest, validateRecord } from './record.ts';
import { fixtureRecord } from './test-fixture.ts';

t.test('a complete record validates, and survives a JSON round trip', async (t) => {
  const r = fixtureRecord();
  t.doesNotThrow(() => validateRecord(r));
  t.doesNotThrow(() => validateRecord(JSON.parse(JSON.stringify(r))));
});

t.test('every suite mode is a valid record mode', async (t) => {
  for (const mode of ['quick', 'extended', 'full'] as const) {
    const r = fixtureRecord();
    r.mode = mode;
    t.doesNotThrow(() => validateRecord(r), mode);
  }
});

t.test('missing or mistyped fields are refused with BAD_RECORD naming the field', async (t) => {
  const cases: [string, (r: Record<string, unknown>) => void][] = [
    ['gitCommit', (r) => delete r.gitCommit],
    ['machine.cpuModel', (r) => ((r.machine as Record<string, unknown>).cpuModel = 7)],
    ['seed', (r) => (r.seed = '1')],
    ['ceiling.rawVerifyPerSec', (r) => ((r.ceiling as Record<string, unknown>).rawVerifyPerSec = Number.NaN)],
    ['real', (r) => (r.real = {})],
    ['schema', (r) => (r.schema = 'vigil-bench/v0')],
    ['mode', (r) => (r.mode = 'medium')],
    ['real', (r) => (r.real = null)],
  ];
  for (const [field, spoil] of cases) {
    const r = JSON.parse(JSON.stringify(fixtureRecord())) as Record<string, unknown>;
    spoil(r);
    t.throws(() => validateRecord(r), { code: 'BAD_RECORD', name: 'BenchError' }, field);
    try {
      validateRecord(r);
    } catch (e) {
      t.ok(e instanceof BenchError && e.message.includes(field.split('.')[0]!), `${field} is named`);
    }
  }
  t.throws(() => validateRecord(null), { code: 'BAD_RECORD' });
});

t.test('the ceiling is the all-core raw verification rate shared by the validators', async (t) => {
  t.equal(ceilingTxPerSec(20_000, 4), 5_000);
  t.equal(ceilingTxPerSec(21_000, 7), 3_000);
});

t.test('latest.json: headline numbers from the sustained run below the knee', async (t) => {
  const s = summarise(fixtureRecord(), 'bench/results/quick-x.json');
  t.doesNotThrow(() => validateLatest(s));
  t.same(s.real.n4, {
    condition: 'loopback',
    throughputTxPerSec: 171,
    p50LatencyMs: 55,
    p99LatencyMs: 300,
    kneeTxPerSec: 200,
    saturatedAtTxPerSec: 400,
    maxCommittedTxPerSec: 380,
    ceilingTxPerSec: 5_000,
    fractionOfCeiling: 171 / 5_000,
  });
  t.same(s.viewChange, { resumeMs: 1_800, firstBlockAfterKillMs: 40, viewChangeTimeoutMs: 1_000 });
  t.same(s.sync, { txPerSec: 4_000, blocksPerSec: 80, gapTxs: 2_000 });
  t.same(s.node, { execTxPerSec: 9_000, rawVerifyPerSec: 20_000 });
  t.equal(s.record, 'bench/results/quick-x.json');
});

t.test('latest.json falls back to the knee point, and to null when nothing kept up', async (t) => {
  const r = fixtureRecord();
  r.real[0]!.belowKnee = null;
  t.equal(summarise(r, 'x').real.n4!.throughputTxPerSec, 190, 'the knee point (200 offered) committed 190');
  r.real[0]!.knee = { kneeTxPerSec: undefined, saturatedAtTxPerSec: 100, maxCommittedTxPerSec: 95 };
  r.real[0]!.viewChange!.resumeMs = null;
  const s = summarise(r, 'x');
  t.equal(s.real.n4!.throughputTxPerSec, null);
  t.equal(s.real.n4!.fractionOfCeiling, null);
  t.equal(s.viewChange.resumeMs, null);
  t.doesNotThrow(() => validateLatest(JSON.parse(JSON.stringify(s))), 'nulls are valid (measured: nothing)');
});

t.test('below-knee repeats that measured nothing do not count as a throughput of 0', async (t) => {
  const r = fixtureRecord();
  const b = r.real[0]!.belowKnee!;
  b.repeats = b.repeats.map((p) => ({ ...p, measured: 0 }));
  b.throughputTxPerSec = { min: 0, median: 0, max: 0, n: 1 };
  t.equal(summarise(r, 'x').real.n4!.throughputTxPerSec, 190, 'falls back to the knee point');
});

t.test(
  'a stalled below-knee run: throughput 0 and no latency, never latencies from another point',
  async (t) => {
    const r = fixtureRecord();
    const b = r.real[0]!.belowKnee!;
    b.throughputTxPerSec = { min: 0, median: 0, max: 0, n: 1 };
    b.p50LatencyMs = { min: Number.NaN, median: Number.NaN, max: Number.NaN, n: 0 };
    b.p99LatencyMs = { min: Number.NaN, median: Number.NaN, max: Number.NaN, n: 0 };
    const s = summarise(JSON.parse(JSON.stringify(r)), 'x').real.n4!;
    t.equal(s.throughputTxPerSec, 0);
    t.equal(s.p50LatencyMs, null);
    t.equal(s.p99LatencyMs, null);
  },
);

t.test('conditions other than loopback get their own keys', async (t) => {
  const r = fixtureRecord();
  r.real.push({ ...r.real[0]!, condition: 'latency 50 ms', faults: { latencyMs: 50, jitterMs: 5 } });
  t.ok(summarise(r, 'x').real['n4-latency-50-ms'], 'n4-latency-50-ms');
  t.equal(summarise(r, 'x').real.n4!.condition, 'loopback');
});

t.test(
  'the ceiling is the median of its samples; non-positive or missing readings are left out',
  async (t) => {
    const sample = (rawVerifyPerSec: number) => ({
      label: 'x',
      at: '2026-12-05T19:45:00.000Z',
      rawVerifyPerSec,
      cpuUsPerSignature: 100,
    });
    t.equal(ceilingFromSamples([]), 0);
    t.equal(ceilingFromSamples([sample(11_874)]), 11_874);
    // The 2026-12-05 18:18 run's low first reading no longer sets the ceiling on its own.
    t.equal(ceilingFromSamples([sample(11_874), sample(19_000), sample(18_000)]), 18_000);
    t.equal(ceilingFromSamples([sample(10), sample(30), sample(20), sample(40)]), 25);
    t.equal(ceilingFromSamples([sample(0), sample(Number.NaN), sample(500)]), 500);
  },
);
