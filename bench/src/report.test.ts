import t from 'tap';
import { fmt, fmtSpread, renderReport, table } from './report.ts';
import { fixtureRecord } from './test-fixture.ts';

t.test('formatting helpers', async (t) => {
  t.equal(fmt(1234.5), '1,235');
  t.equal(fmt(1.25, 1), '1.3');
  t.equal(fmt(Number.NaN), '-');
  t.equal(fmt(null), '-');
  t.equal(fmtSpread({ min: 1, median: 2, max: 3, n: 3 }), '2 (1-3)');
  t.equal(fmtSpread({ min: 2, median: 2, max: 2, n: 1 }), '2');
  t.equal(fmtSpread({ min: Number.NaN, median: Number.NaN, max: Number.NaN, n: 0 }), '-');
  t.equal(table(['a', 'b'], [['1', '2']]), '| a | b |\n| --- | ---: |\n| 1 | 2 |');
});

t.test('the report has the headline, every sweep point, the simulator tables and its charts', async (t) => {
  const r = fixtureRecord();
  const rep = renderReport(r, 'bench/results/quick-x.json', 'quick-x');
  const md = rep.markdown;
  t.match(md, /^# Vigil benchmark report \(quick run\)/);
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
