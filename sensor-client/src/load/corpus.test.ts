import { decodeTransaction } from '@vigil/consensus/wire';
import t from 'tap';
import { toHex } from '../util/hex.ts';
import { buildCorpus, buildCorpusParallel, laneOf } from './corpus.ts';
import { buildSchedule } from './schedule.ts';

t.test('each device stays on one node lane with consecutive nonces in send order', async (t) => {
  const schedule = buildSchedule({ rate: 200, batchSize: 4, durationMs: 1000, warmupMs: 0 });
  const c = buildCorpus(
    { chainId: 'vigil-load', seed: 3, devices: 6, nodes: 3, startMs: 1_800_000_000_000, rate: 200 },
    schedule,
  );
  t.equal(c.batches.length, 50);
  t.equal(
    c.batches.reduce((n, b) => n + b.txs.length, 0),
    200,
  );
  const seen = new Map<string, { node: number; nonces: number[] }>();
  const ids = new Set<string>();
  for (const [i, b] of c.batches.entries()) {
    t.equal(b.node, i % 3);
    for (const [j, bytes] of b.txs.entries()) {
      const tx = decodeTransaction(bytes, { chainId: 'vigil-load' });
      const key = toHex(tx.sender);
      const s = seen.get(key) ?? { node: b.node, nonces: [] };
      t.equal(s.node, b.node, 'a device always uses the same node');
      s.nonces.push(tx.nonce);
      seen.set(key, s);
      ids.add(b.ids[j]!);
    }
  }
  t.equal(seen.size, 6);
  for (const s of seen.values())
    t.same(
      s.nonces,
      s.nonces.map((_, i) => i + 1),
    );
  t.equal(ids.size, 200, 'all transactions distinct');
  t.equal(laneOf(4, 3), 1);
  t.throws(
    () => buildCorpus({ chainId: 'x', seed: 1, devices: 2, nodes: 3, startMs: 0, rate: 200 }, schedule),
    RangeError,
  );
});

t.test('the corpus is reproducible from the seed', async (t) => {
  const schedule = buildSchedule({ rate: 50, batchSize: 5, durationMs: 400, warmupMs: 0 });
  const o = { chainId: 'vigil-load', seed: 9, devices: 4, nodes: 2, startMs: 1_800_000_000_000, rate: 50 };
  t.same(buildCorpus(o, schedule).batches, buildCorpus(o, schedule).batches);
});

t.test('the parallel (worker thread) build is identical to the single-threaded one', async (t) => {
  const schedule = buildSchedule({ rate: 100, batchSize: 3, durationMs: 500, warmupMs: 0 });
  const o = {
    chainId: 'vigil-load',
    seed: 4,
    devices: 6,
    nodes: 2,
    startMs: 1_800_000_000_000,
    rate: 100,
    firstNonces: [5, 1, 1, 9],
  };
  const par = await buildCorpusParallel(o, schedule, 2);
  t.equal(par.workers, 2);
  t.same(par.batches, buildCorpus(o, schedule).batches);
  t.equal(decodeTransaction(par.batches[0]!.txs[0]!).nonce, 5, 'first nonces come from the accounts');
});

t.test('measurement times increase strictly per device, even at 3000 tx/s with one device', async (t) => {
  const schedule = buildSchedule({ rate: 3000, batchSize: 50, durationMs: 200, warmupMs: 0 });
  const c = buildCorpus(
    { chainId: 'vigil-load', seed: 5, devices: 1, nodes: 1, startMs: 1_800_000_000_000, rate: 3000 },
    schedule,
  );
  const times = c.batches.flatMap((b) => b.txs.map((x) => decodeTransaction(x).timestamp));
  t.equal(times.length, 600);
  t.ok(
    times.every((x, i) => i === 0 || x > times[i - 1]!),
    'strictly increasing',
  );
  const body = decodeTransaction(c.batches[0]!.txs[0]!).body as unknown[][];
  t.equal((body[1] as unknown[][])[0]![3], times[0], 'readings are measured at the transaction time');
  // Several devices: each device's own sequence increases, and the batch order is the time order.
  const many = buildCorpus(
    { chainId: 'vigil-load', seed: 5, devices: 7, nodes: 2, startMs: 0, rate: 3000 },
    schedule,
  );
  const perDevice = new Map<string, number[]>();
  for (const b of many.batches) {
    for (const x of b.txs) {
      const tx = decodeTransaction(x);
      const k = toHex(tx.sender);
      perDevice.set(k, [...(perDevice.get(k) ?? []), tx.timestamp]);
    }
  }
  for (const ts of perDevice.values()) t.ok(ts.every((x, i) => i === 0 || x > ts[i - 1]!));
});
