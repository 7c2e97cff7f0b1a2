import t from 'tap';
import { barChart, escapeXml, fmtTick, lineChart, niceTicks } from './svg.ts';

/** Every number in the SVG's attributes, to check nothing is NaN or Infinity. */
const attrNumbers = (svg: string) => [...svg.matchAll(/="(-?[\d.]+|NaN|-?Infinity)"/g)].map((m) => m[1]!);

t.test('niceTicks: 1-2-5 steps that cover the range', async (t) => {
  t.same(niceTicks(0, 10), [0, 2, 4, 6, 8, 10]);
  t.same(niceTicks(0, 730), [0, 200, 400, 600, 800]);
  t.same(niceTicks(0, 0.7), [0, 0.2, 0.4, 0.6, 0.8]);
  t.same(niceTicks(5, 5), [5, 5.2, 5.4, 5.6, 5.8, 6], 'an empty range becomes a unit range');
  t.same(niceTicks(Number.NaN, 1), [0, 1]);
});

t.test('fmtTick: compact labels', async (t) => {
  t.equal(fmtTick(250), '250');
  t.equal(fmtTick(25_000), '25k');
  t.equal(fmtTick(2_500_000), '2.5M');
  t.equal(fmtTick(0.25), '0.25');
});

t.test('escapeXml escapes markup in titles and series names', async (t) => {
  t.equal(escapeXml(`<a & 'b' "c">`), '&lt;a &amp; &apos;b&apos; &quot;c&quot;&gt;');
  const svg = lineChart({
    title: 'p<99>',
    xLabel: 'x',
    yLabel: 'y',
    series: [{ name: 'a&b', points: [[1, 2]] }],
  });
  t.match(svg, /p&lt;99&gt;/);
  t.match(svg, /a&amp;b/);
  t.notMatch(svg, /p<99>/);
});

t.test('lineChart: one polyline per series with two or more points, one circle per point', async (t) => {
  const svg = lineChart({
    title: 'T',
    xLabel: 'offered',
    yLabel: 'committed',
    series: [
      {
        name: 'a',
        points: [
          [100, 90],
          [200, 180],
          [400, 210],
        ],
      },
      { name: 'b', points: [[100, 5]] },
      {
        name: 'c',
        points: [
          [100, Number.NaN],
          [200, Number.POSITIVE_INFINITY],
        ],
      },
    ],
  });
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.match(svg, /<\/svg>\n$/);
  t.equal(svg.match(/<polyline/g)?.length, 1);
  t.equal(svg.match(/<circle/g)?.length, 4, 'non-finite points are dropped');
  t.notOk(attrNumbers(svg).some((v) => v === 'NaN' || v.includes('Infinity')));
  t.equal(
    lineChart({ title: 'T', xLabel: 'x', yLabel: 'y', series: [] }).includes('NaN'),
    false,
    'empty chart',
  );
});

t.test('lineChart: a log x axis puts 1, 10, 100, 1000 at equal spacing', async (t) => {
  const svg = lineChart({
    title: 'T',
    xLabel: 'batch',
    yLabel: 'tx/s',
    logX: true,
    series: [
      {
        name: 'n=4',
        points: [
          [1, 10],
          [10, 20],
          [100, 30],
          [1000, 40],
        ],
      },
    ],
  });
  const xs = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((m) => Number(m[1]));
  const gaps = xs.slice(1).map((x, i) => x - xs[i]!);
  t.equal(gaps.length, 3);
  for (const g of gaps) t.ok(Math.abs(g - gaps[0]!) < 0.2, 'equal decades');
});

t.test('lineChart: points are drawn in x order whatever order they came in', async (t) => {
  const svg = lineChart({
    title: 'T',
    xLabel: 'x',
    yLabel: 'y',
    series: [
      {
        name: 'a',
        points: [
          [100, 1],
          [50, 1],
          [75, 1],
        ],
      },
    ],
  });
  const xs = /points="([^"]+)"/
    .exec(svg)![1]!
    .split(' ')
    .map((p) => Number(p.split(',')[0]));
  t.same(
    [...xs].sort((a, b) => a - b),
    xs,
  );
});

t.test('barChart: one rect per finite value, heights proportional', async (t) => {
  const svg = barChart({
    title: 'bytes',
    yLabel: 'bytes',
    categories: ['n=4', 'n=7'],
    groups: [
      { name: 'PREPARE', values: [100, 200] },
      { name: 'COMMIT', values: [Number.NaN, 400] },
    ],
  });
  const bars = [
    ...svg.matchAll(/<rect x="\d+\.\d" y="\d+\.\d" width="[\d.]+" height="([\d.]+)" fill="#/g),
  ].map((m) => Number(m[1]));
  t.equal(bars.length, 3);
  t.ok(Math.abs(bars[1]! / bars[0]! - 2) < 0.02, '200 is twice as tall as 100');
  t.notOk(svg.includes('NaN'));
});
