// Every input from a peer is hostile: mutated, truncated or re-typed versions of valid messages must be
// dropped with a counted reason, never throw out of Replica.step, and never grow state beyond bounds.
import t from 'tap';
import { encodeCanonical } from '../wire/index.ts';
import { Replica } from './replica.ts';
import {
  checkpoint,
  commit,
  makeTestBlock,
  newView,
  prePrepare,
  prepare,
  preparedProof,
  seededRandom,
  testGroup,
  tx,
  viewChange,
} from './testkit.ts';

const cases = Number(process.env.PBFT_HOSTILE_CASES ?? 3000);

t.test('mutated messages never crash a replica', async (t) => {
  const g = testGroup(4);
  const b1 = makeTestBlock(4, 0, 1, undefined, [tx(1), tx(2)]);
  const vc = viewChange(g, 2, 1, [preparedProof(g, 0, b1)]);
  const seeds = [
    prePrepare(g, 0, 0, b1).bytes,
    prepare(g, 2, 0, 1, b1.hash).bytes,
    commit(g, 3, 0, 1, b1.hash).bytes,
    checkpoint(g, 2, 4, b1.hash, b1.hash, 5).bytes,
    vc.bytes,
    newView(g, 1, 1, [vc.bytes, viewChange(g, 3, 1, []).bytes, viewChange(g, 0, 1, []).bytes], []).bytes,
    encodeCanonical([7, 1, 2, 3, new Uint8Array(64)]),
  ];
  const rnd = seededRandom(42);
  const r = Replica.create(g.config(1), g.deps(1));
  let threw = 0;
  for (let i = 0; i < cases; i++) {
    const base = seeds[i % seeds.length]!;
    const m = base.slice();
    const kind = rnd();
    let input: Uint8Array = m;
    if (kind < 0.5) {
      const flips = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < flips; k++) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256);
    } else if (kind < 0.8) {
      input = m.slice(0, Math.floor(rnd() * m.length));
    } else {
      input = new Uint8Array([...m, ...m.slice(0, Math.floor(rnd() * 16))]);
    }
    try {
      r.step({ type: 'receive', from: Math.floor(rnd() * 5), message: input });
    } catch (e) {
      threw++;
      if (threw < 5) t.fail(`case ${i} threw: ${(e as Error).stack}`);
    }
  }
  t.equal(threw, 0, `${cases} mutated inputs, none threw`);
  const s = r.stats();
  const drops = Object.values(s.dropped).reduce((a, b) => a + b, 0);
  t.ok(drops > cases / 2, `most were dropped with a reason (${drops})`);
  t.ok(
    s.sizes.slots <= 8 && s.sizes.futureBuffered <= 4 * 24 && s.sizes.viewChangeMessages <= 4,
    'state stays bounded',
  );
});
