import fc from 'fast-check';
import t from 'tap';
import type { TreeNode } from './node-codec.ts';
import { NodeTable, TreeNodeCache } from './node-cache.ts';

/** A 32-byte hash whose first four bytes (the table key at offset 0) are `prefix`, the rest `tail`. */
function hashOf(prefix: number, tail: number): Uint8Array {
  const h = new Uint8Array(32);
  new DataView(h.buffer).setUint32(0, prefix);
  new DataView(h.buffer).setUint32(28, tail);
  return h;
}

function leaf(n: number): TreeNode {
  return {
    kind: 'leaf',
    keyHash: new Uint8Array(32).fill(n),
    valueHash: new Uint8Array(32),
    key: Uint8Array.of(n),
    value: Uint8Array.of(n),
  };
}

/** The one-byte value of a leaf made by `leaf`. */
function leafValue(node: TreeNode | undefined): number | undefined {
  return node?.kind === 'leaf' ? node.value[0] : undefined;
}

t.test('NodeTable: entries whose keys collide are told apart by the full hash', async (t) => {
  const table = new NodeTable(0);
  // Same first four bytes: one chain of three.
  const [a, b, c] = [hashOf(7, 1), hashOf(7, 2), hashOf(7, 3)];
  table.set(a, leaf(1));
  table.set(b, leaf(2));
  table.set(c, leaf(3));
  t.equal(table.size, 3);
  t.equal(leafValue(table.get(a)), 1);
  t.equal(leafValue(table.get(b)), 2);
  t.equal(table.get(hashOf(7, 4)), undefined, 'same key, other hash: absent');
  table.set(b, leaf(9));
  t.equal(table.size, 3, 'a second set of a hash replaces its node');
  t.equal(leafValue(table.get(b)), 9);
  // Remove from the middle, the head and the tail of the chain.
  t.equal(leafValue(table.delete(b)), 9);
  t.equal(table.get(b), undefined);
  t.equal(leafValue(table.get(a)), 1);
  t.equal(leafValue(table.get(c)), 3);
  t.equal(table.delete(c)?.kind, 'leaf');
  t.equal(table.delete(a)?.kind, 'leaf');
  t.equal(table.delete(a), undefined, 'deleting twice finds nothing');
  t.equal(table.size, 0);
  // A hash whose bytes match only beyond the key is another entry; a shorter one is refused.
  t.throws(() => new NodeTable(0).get(new Uint8Array(3)), RangeError);
  t.throws(() => new NodeTable(29), RangeError);
  t.throws(() => new NodeTable(28).set(new Uint8Array(31), leaf(1)), RangeError);
});

t.test('TreeNodeCache keeps what is used each generation and drops what is not', async (t) => {
  const cache = new TreeNodeCache(4, { offset: 0 }); // generations of 2
  const h = [1, 2, 3, 4, 5, 6].map((i) => hashOf(i, i));
  cache.set(h[0]!, leaf(0));
  cache.set(h[1]!, leaf(1));
  cache.set(h[2]!, leaf(2)); // young was full: {0,1} became old
  t.equal(cache.size, 3);
  t.ok(cache.get(h[0]!), 'an old-generation hit is kept and moves to the young generation');
  cache.set(h[3]!, leaf(3)); // young {2,0} full: it becomes old, {1} is dropped
  t.equal(cache.get(h[1]!), undefined, 'unused for two generations: dropped');
  t.ok(cache.get(h[0]!) && cache.get(h[2]!) && cache.get(h[3]!));
  t.ok(cache.size <= 4, `bounded (${cache.size})`);
  cache.delete(h[3]!);
  cache.delete(h[0]!);
  t.equal(cache.get(h[3]!), undefined);
  t.equal(cache.get(h[0]!), undefined, 'delete removes from either generation');
  t.throws(() => new TreeNodeCache(0), RangeError);
  const one = new TreeNodeCache(1);
  one.set(h[4]!, leaf(4));
  one.set(h[5]!, leaf(5));
  t.ok(one.size <= 2 && one.get(h[5]!) !== undefined, 'a one-node cache still holds the newest node');
});

t.test(
  'TreeNodeCache against a Map model: never a wrong node, bounded, nothing lost when large enough',
  async (t) => {
    // Few distinct table keys and tails, so that chains, replacements and deletions meet often.
    const op = fc.record({
      kind: fc.constantFrom('set', 'get', 'delete'),
      prefix: fc.integer({ min: 0, max: 3 }),
      tail: fc.integer({ min: 0, max: 5 }),
      value: fc.integer({ min: 0, max: 255 }),
    });
    const check = fc.property(
      fc.array(op, { maxLength: 200 }),
      fc.integer({ min: 1, max: 12 }),
      (ops, max) => {
        const small = new TreeNodeCache(max, { offset: 0 });
        const large = new TreeNodeCache(1_000, { offset: 0 });
        const model = new Map<string, number>();
        for (const o of ops) {
          const hash = hashOf(o.prefix, o.tail);
          const id = `${o.prefix}/${o.tail}`;
          if (o.kind === 'set') {
            small.set(hash, leaf(o.value));
            large.set(hash, leaf(o.value));
            model.set(id, o.value);
          } else if (o.kind === 'delete') {
            small.delete(hash);
            large.delete(hash);
            model.delete(id);
          } else {
            const want = model.get(id);
            const got = small.get(hash);
            if (got !== undefined && leafValue(got) !== want) return false;
            if (leafValue(large.get(hash)) !== want) return false;
          }
          if (small.size > 2 * Math.max(1, Math.floor(max / 2))) return false;
        }
        return true;
      },
    );
    t.doesNotThrow(() => fc.assert(check), 'no counterexample');
  },
);

t.test(
  'a held cache evicts nothing until released, and is back within its bound a generation later',
  async (t) => {
    const cache = new TreeNodeCache(2, { offset: 0 }); // generations of 1
    const h = [1, 2, 3, 4, 5].map((i) => hashOf(i, i));
    cache.hold();
    cache.hold();
    for (const [i, x] of h.entries()) cache.set(x, leaf(i));
    t.equal(cache.size, 5, 'held: every node stays');
    t.ok(h.every((x) => cache.get(x) !== undefined));
    cache.release();
    t.equal(cache.size, 5, 'still held by the outer hold');
    cache.release();
    t.ok(cache.size <= 5 && cache.get(h[4]!) !== undefined, 'the newest node survives the release');
    // The update's working set went to the old generation: it leaves when the next generation fills.
    cache.set(hashOf(9, 9), leaf(9));
    cache.set(hashOf(8, 8), leaf(8));
    t.ok(cache.size <= 2, `bounded again (${cache.size})`);
    t.throws(() => cache.release(), RangeError, 'release without hold');
  },
);
