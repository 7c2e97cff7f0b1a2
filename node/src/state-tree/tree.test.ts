import fc from 'fast-check';
import t from 'tap';
import { EMPTY_SUBTREE, type StateProof, verifySparseMerkleProof } from '@vigil/consensus/proof/smt.ts';
import { SparseMerkleTree, type TreeChange } from './tree.ts';

const RUNS = Number(process.env.VIGIL_PROPERTY_RUNS ?? 200);

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** A tree over an in-memory node map (what the chain store's `N` prefix holds). */
function memoryTree(cacheSize?: number): { tree: SparseMerkleTree; nodes: Map<string, Uint8Array> } {
  const nodes = new Map<string, Uint8Array>();
  const tree = new SparseMerkleTree(
    { getNode: async (h) => nodes.get(hex(h)) },
    cacheSize !== undefined ? { cacheSize } : {},
  );
  return { tree, nodes };
}

async function apply(
  t: { tree: SparseMerkleTree; nodes: Map<string, Uint8Array> },
  root: Uint8Array,
  changes: TreeChange[],
): Promise<Uint8Array> {
  const u = await t.tree.update(root, changes);
  for (const n of u.nodes) t.nodes.set(hex(n.hash), n.bytes);
  return u.root;
}

/** Keys from a small pool so that sequences overwrite and delete existing keys often. */
const keyArb = fc.integer({ min: 0, max: 60 }).map((i) => new TextEncoder().encode(`k${i}`));
const valueArb = fc.uint8Array({ minLength: 0, maxLength: 12 });
const changeArb = fc.record({ key: keyArb, value: fc.option(valueArb, { nil: undefined }) });
const stateArb = fc.uniqueArray(fc.tuple(keyArb, valueArb), { selector: ([k]) => hex(k), maxLength: 40 });

function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const c = b.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
}

/** Every bit (VIGIL_EXHAUSTIVE=1), or in CI every 17th bit from a per-run offset (all positions get
 *  covered across runs, at 1/17 of the cost). */
const BIT_STRIDE = process.env.VIGIL_EXHAUSTIVE === '1' ? 1 : 17;

/** Proofs that differ from `p` by exactly one flipped bit in one field. */
function* tamperedProofs(p: StateProof, offset = 0): Generator<StateProof> {
  const start = offset % BIT_STRIDE;
  for (let i = 0; i < p.siblings.length; i++) {
    for (let bit = start; bit < 256; bit += BIT_STRIDE) {
      const siblings = p.siblings.slice();
      siblings[i] = flipBit(siblings[i]!, bit);
      yield { siblings, leaf: p.leaf };
    }
  }
  if (p.leaf !== null) {
    for (let bit = start; bit < 256; bit += BIT_STRIDE) {
      yield {
        siblings: p.siblings,
        leaf: { keyHash: flipBit(p.leaf.keyHash, bit), valueHash: p.leaf.valueHash },
      };
      yield {
        siblings: p.siblings,
        leaf: { keyHash: p.leaf.keyHash, valueHash: flipBit(p.leaf.valueHash, bit) },
      };
    }
  }
}

t.test('empty tree: root is the empty-subtree constant and every key is provably absent', async (t) => {
  const m = memoryTree();
  const key = new TextEncoder().encode('anything');
  const { value, proof } = await m.tree.prove(EMPTY_SUBTREE, key);
  t.equal(value, undefined);
  t.ok(verifySparseMerkleProof(EMPTY_SUBTREE, key, undefined, proof));
  t.notOk(verifySparseMerkleProof(EMPTY_SUBTREE, key, new Uint8Array([1]), proof));
});

t.test('a single key collapses into a leaf at the root', async (t) => {
  const m = memoryTree();
  const key = new TextEncoder().encode('solo');
  const root = await apply(m, EMPTY_SUBTREE, [{ key, value: Uint8Array.of(7) }]);
  const { proof } = await m.tree.prove(root, key);
  t.equal(proof.siblings.length, 0);
  t.ok(verifySparseMerkleProof(root, key, Uint8Array.of(7), proof));
  const other = await m.tree.prove(root, new TextEncoder().encode('other'));
  t.equal(other.value, undefined);
  t.ok(verifySparseMerkleProof(root, new TextEncoder().encode('other'), undefined, other.proof));
  // Deleting the only key returns to the empty root.
  t.same(await apply(m, root, [{ key, value: undefined }]), EMPTY_SUBTREE);
});

t.test('random states: every inclusion and exclusion proof verifies (pure-JS verifier)', async (t) => {
  await fc.assert(
    fc.asyncProperty(stateArb, fc.array(keyArb, { maxLength: 10 }), async (entries, probes) => {
      const m = memoryTree();
      const root = await apply(
        m,
        EMPTY_SUBTREE,
        entries.map(([key, value]) => ({ key, value })),
      );
      const present = new Map(entries.map(([k, v]) => [hex(k), v]));
      for (const [key, value] of entries) {
        const got = await m.tree.prove(root, key);
        if (!got.value || hex(got.value) !== hex(value)) return false;
        if (!verifySparseMerkleProof(root, key, value, got.proof)) return false;
        if (verifySparseMerkleProof(root, key, undefined, got.proof)) return false;
      }
      for (const key of probes) {
        const got = await m.tree.prove(root, key);
        const expected = present.get(hex(key));
        if (expected === undefined) {
          if (got.value !== undefined) return false;
          if (!verifySparseMerkleProof(root, key, undefined, got.proof)) return false;
        }
      }
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass('property held');
});

t.test('random states: a proof with any single bit flipped in any field fails', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      stateArb.filter((e) => e.length > 0),
      fc.nat(),
      keyArb,
      fc.nat(),
      async (entries, pick, probe, bitSeed) => {
        const m = memoryTree();
        const root = await apply(
          m,
          EMPTY_SUBTREE,
          entries.map(([key, value]) => ({ key, value })),
        );
        const [key, value] = entries[pick % entries.length]!;
        const { proof } = await m.tree.prove(root, key);
        for (const bad of tamperedProofs(proof, bitSeed)) {
          if (verifySparseMerkleProof(root, key, value, bad)) return false;
        }
        // The value and the key, one flipped bit each.
        const vbit = value.length > 0 ? bitSeed % (value.length * 8) : -1;
        if (vbit >= 0 && verifySparseMerkleProof(root, key, flipBit(value, vbit), proof)) return false;
        if (verifySparseMerkleProof(root, flipBit(key, bitSeed % (key.length * 8)), value, proof))
          return false;
        // Exclusion proofs of absent keys: every tampered proof fails too.
        const present = new Set(entries.map(([k]) => hex(k)));
        if (!present.has(hex(probe))) {
          const ex = await m.tree.prove(root, probe);
          for (const bad of tamperedProofs(ex.proof, bitSeed)) {
            if (verifySparseMerkleProof(root, probe, undefined, bad)) return false;
          }
          // Claiming a value for an absent key fails.
          if (verifySparseMerkleProof(root, probe, Uint8Array.of(1), ex.proof)) return false;
          // A flipped key bit may still name an absent key (then the claim is TRUE and may verify);
          // it must never verify for a key that is present.
          const flipped = flipBit(probe, bitSeed % (probe.length * 8));
          if (present.has(hex(flipped)) && verifySparseMerkleProof(root, flipped, undefined, ex.proof))
            return false;
        }
        return true;
      },
    ),
    { numRuns: Math.max(20, RUNS >> 2) },
  );
  t.pass('property held');
});

t.test('incremental updates over many blocks equal the tree rebuilt from scratch', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(changeArb, { maxLength: 15 }), { maxLength: 12 }), async (blocks) => {
      const inc = memoryTree(64); // a small cache forces node loads from the store
      let root = EMPTY_SUBTREE;
      const model = new Map<string, { key: Uint8Array; value: Uint8Array }>();
      for (const changes of blocks) {
        root = await apply(inc, root, changes);
        for (const c of changes) {
          if (c.value === undefined) model.delete(hex(c.key));
          else model.set(hex(c.key), { key: c.key, value: c.value });
        }
        const scratch = memoryTree();
        const fresh = await apply(scratch, EMPTY_SUBTREE, [...model.values()]);
        if (hex(fresh) !== hex(root)) return false;
      }
      // And the tree's contents are exactly the model.
      const seen = new Map<string, string>();
      for await (const e of inc.tree.entries(root)) seen.set(hex(e.key), hex(e.value));
      if (seen.size !== model.size) return false;
      for (const [k, v] of model) if (seen.get(k) !== hex(v.value)) return false;
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass('property held');
});

t.test('superseded node versions leave the cache; the cache holds the live tree', async (t) => {
  const m = memoryTree();
  const enc = new TextEncoder();
  const keys = [...Array(20).keys()].map((i) => enc.encode(`key${i}`));
  let root = EMPTY_SUBTREE;
  const roots: Uint8Array[] = [];
  for (let block = 0; block < 50; block++) {
    root = await apply(
      m,
      root,
      keys.map((key, i) => ({ key, value: Uint8Array.of(block, i) })),
    );
    roots.push(root);
  }
  // Every update made a new version of every node; the cache holds exactly the nodes of the live tree.
  const cached = m.tree.cachedNodes;
  const live = async (hash: Uint8Array): Promise<number> => {
    if (hex(hash) === hex(EMPTY_SUBTREE)) return 0;
    const node = await m.tree.loadNode(hash);
    return node.kind === 'leaf' ? 1 : 1 + (await live(node.left)) + (await live(node.right));
  };
  t.equal(cached, await live(root), `${cached} cached nodes: the live tree's`);
  t.equal(m.tree.cachedNodes, cached, 'walking the live tree loaded nothing new');
  t.ok(m.nodes.size >= 50 * keys.length, 'every version is still in the store');
  const scratch = memoryTree();
  const fresh = await apply(
    scratch,
    EMPTY_SUBTREE,
    keys.map((key, i) => ({ key, value: Uint8Array.of(49, i) })),
  );
  t.equal(hex(fresh), hex(root), 'the same root as a tree built from scratch');
  const old = await m.tree.prove(roots[3]!, keys[7]!);
  t.same(old.value, Uint8Array.of(3, 7), 'an old root is still provable (read back from the store)');
  t.ok(verifySparseMerkleProof(roots[3]!, keys[7]!, Uint8Array.of(3, 7), old.proof));
});

t.test('old roots stay provable after later updates', async (t) => {
  const m = memoryTree();
  const enc = new TextEncoder();
  const r1 = await apply(m, EMPTY_SUBTREE, [
    { key: enc.encode('a'), value: Uint8Array.of(1) },
    { key: enc.encode('b'), value: Uint8Array.of(2) },
  ]);
  const r2 = await apply(m, r1, [
    { key: enc.encode('a'), value: Uint8Array.of(9) },
    { key: enc.encode('b'), value: undefined },
  ]);
  const old = await m.tree.prove(r1, enc.encode('a'));
  t.same(old.value, Uint8Array.of(1));
  t.ok(verifySparseMerkleProof(r1, enc.encode('a'), Uint8Array.of(1), old.proof));
  const now = await m.tree.prove(r2, enc.encode('b'));
  t.equal(now.value, undefined);
  t.ok(verifySparseMerkleProof(r2, enc.encode('b'), undefined, now.proof));
  t.notOk(
    verifySparseMerkleProof(r2, enc.encode('a'), Uint8Array.of(1), old.proof),
    'old proof is not valid now',
  );
});

t.test(
  'a node that does not hash to its address is refused (CORRUPT_NODE), a missing one MISSING_NODE',
  async (t) => {
    const m = memoryTree(1);
    const enc = new TextEncoder();
    const root = await apply(
      m,
      EMPTY_SUBTREE,
      [...Array(8).keys()].map((i) => ({ key: enc.encode(`x${i}`), value: Uint8Array.of(i) })),
    );
    const fresh = new SparseMerkleTree({ getNode: async (h) => m.nodes.get(hex(h)) });
    const bytes = m.nodes.get(hex(root))!;
    const damaged = bytes.slice();
    damaged[damaged.length - 1]! ^= 1;
    const corrupt = new SparseMerkleTree({ getNode: async () => damaged });
    await t.rejects(corrupt.loadNode(root), { code: 'CORRUPT_NODE' });
    const empty = new SparseMerkleTree({ getNode: async () => undefined });
    await t.rejects(empty.prove(root, enc.encode('x1')), { code: 'MISSING_NODE' });
    t.ok((await fresh.prove(root, enc.encode('x1'))).value);
  },
);

t.test('a one-node cache (evictions in the middle of every update) gives the same roots', async (t) => {
  // update() pins what it preloads and creates, so an LRU eviction during the synchronous pass can
  // never make it read a node it does not hold (or read the store mid-update).
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(changeArb, { maxLength: 20 }), { maxLength: 8 }), async (blocks) => {
      const tiny = memoryTree(1);
      const roomy = memoryTree();
      let a = EMPTY_SUBTREE;
      let b = EMPTY_SUBTREE;
      for (const changes of blocks) {
        a = await apply(tiny, a, changes);
        b = await apply(roomy, b, changes);
        if (hex(a) !== hex(b)) return false;
      }
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass('property held');
});
