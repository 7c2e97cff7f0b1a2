import fc from 'fast-check';
import t from 'tap';
import { EMPTY_SUBTREE, type StateProof, verifySparseMerkleProof } from '@vigil/consensus/proof/smt.ts';
import { decodeTreeNode } from './node-codec.ts';
import { SparseMerkleTree, type TreeChange, type TreeNodeSource } from './tree.ts';

const RUNS = Number(process.env.VIGIL_PROPERTY_RUNS ?? 200);

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** In-memory node and root-version maps: what the chain store's `N` and `V` prefixes hold. */
interface MemoryStore {
  /** `${version}:${hex(hash)}` -> node bytes. */
  nodes: Map<string, Uint8Array>;
  roots: Map<string, number>;
  /** The version the next update gets (a block height). */
  version: number;
}

function sourceOf(s: MemoryStore): TreeNodeSource {
  return {
    getNode: async (version, h) => s.nodes.get(`${version}:${hex(h)}`),
    getRootVersion: async (root) => s.roots.get(hex(root)),
  };
}

function memoryTree(cacheSize?: number): MemoryStore & { tree: SparseMerkleTree } {
  const store: MemoryStore = { nodes: new Map(), roots: new Map(), version: 1 };
  const tree = new SparseMerkleTree(sourceOf(store), cacheSize !== undefined ? { cacheSize } : {});
  return Object.assign(store, { tree });
}

async function apply(
  t: MemoryStore & { tree: SparseMerkleTree },
  root: Uint8Array,
  changes: TreeChange[],
): Promise<Uint8Array> {
  const version = t.version++;
  const u = await t.tree.update(root, changes, version);
  for (const n of u.nodes) {
    if (n.version !== version) throw new Error(`node created at ${n.version} by the update of ${version}`);
    t.nodes.set(`${n.version}:${hex(n.hash)}`, n.bytes);
  }
  if (hex(u.root) !== hex(EMPTY_SUBTREE)) t.roots.set(hex(u.root), u.rootVersion);
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
      // And the tree's contents are exactly the model, read back from the store alone by a tree with
      // nothing cached: every child version a parent names leads to the stored node.
      const cold = new SparseMerkleTree(sourceOf(inc));
      const seen = new Map<string, string>();
      for await (const e of cold.entries(root)) seen.set(hex(e.key), hex(e.value));
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
  const live = async (hash: Uint8Array, version: number): Promise<number> => {
    if (hex(hash) === hex(EMPTY_SUBTREE)) return 0;
    const node = await m.tree.loadNode(hash, version);
    return node.kind === 'leaf'
      ? 1
      : 1 + (await live(node.left, node.leftVersion)) + (await live(node.right, node.rightVersion));
  };
  const rootRef = await m.tree.rootRef(root);
  t.equal(cached, await live(rootRef.hash, rootRef.version), `${cached} cached nodes: the live tree's`);
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
    const fresh = new SparseMerkleTree(sourceOf(m));
    const version = m.roots.get(hex(root))!;
    const bytes = m.nodes.get(`${version}:${hex(root)}`)!;
    const damaged = bytes.slice();
    damaged[40]! ^= 1; // in the right child's hash (the versions at the end are addresses, not hashed)
    const corrupt = new SparseMerkleTree({
      getNode: async () => damaged,
      getRootVersion: async () => version,
    });
    await t.rejects(corrupt.loadRoot(root), { code: 'CORRUPT_NODE' });
    const empty = new SparseMerkleTree({
      getNode: async () => undefined,
      getRootVersion: async () => undefined,
    });
    await t.rejects(empty.prove(root, enc.encode('x1')), { code: 'MISSING_NODE' }, 'no root version');
    const noNodes = new SparseMerkleTree({
      getNode: async () => undefined,
      getRootVersion: async () => version,
    });
    await t.rejects(noNodes.prove(root, enc.encode('x1')), { code: 'MISSING_NODE' }, 'no root node');
    // A parent naming the wrong version of a child: that address holds nothing.
    const wrongVersion = new SparseMerkleTree({
      getNode: async (v, h) => (hex(h) === hex(root) ? bytes : m.nodes.get(`${v + 1}:${hex(h)}`)),
      getRootVersion: async () => version,
    });
    await t.rejects(wrongVersion.prove(root, enc.encode('x1')), { code: 'MISSING_NODE' }, 'child moved');
    t.ok((await fresh.prove(root, enc.encode('x1'))).value);
  },
);

t.test('a one-node cache (evictions in the middle of every update) gives the same roots', async (t) => {
  // update() holds the cache while it reads what it preloaded and created, so no eviction can make it
  // read a node it does not have (or read the store mid-update).
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

t.test(
  'node versions: children are never newer than their parent, and unchanged subtrees keep theirs',
  async (t) => {
    const m = memoryTree();
    const enc = new TextEncoder();
    const keys = [...Array(64).keys()].map((i) => enc.encode(`key${i}`));
    let root = await apply(
      m,
      EMPTY_SUBTREE,
      keys.map((key, i) => ({ key, value: Uint8Array.of(i) })),
    );
    // Later blocks touch one key each: only that key's path gets the new version.
    for (let block = 0; block < 10; block++) {
      root = await apply(m, root, [{ key: keys[block]!, value: Uint8Array.of(100 + block) }]);
    }
    const rootVersion = m.roots.get(hex(root))!;
    t.equal(rootVersion, m.version - 1, 'a changed root has the latest version');
    const seen = new Map<number, number>();
    const walk = async (hash: Uint8Array, version: number, parentVersion: number): Promise<void> => {
      if (hex(hash) === hex(EMPTY_SUBTREE)) return;
      t.ok(version <= parentVersion, 'child no newer than its parent');
      seen.set(version, (seen.get(version) ?? 0) + 1);
      const node = decodeTreeNode(m.nodes.get(`${version}:${hex(hash)}`)!);
      if (node.kind === 'internal') {
        await walk(node.left, node.leftVersion, version);
        await walk(node.right, node.rightVersion, version);
      }
    };
    await walk(root, rootVersion, rootVersion);
    t.ok((seen.get(1) ?? 0) > 64, 'most of the tree still refers to the genesis version');
    t.ok((seen.get(m.version - 1) ?? 0) <= 12, 'the last update rewrote one path only');
    // A root the update did not change keeps its version.
    const same = await m.tree.update(root, [], m.version);
    t.equal(hex(same.root), hex(root));
    t.equal(same.rootVersion, rootVersion);
    t.equal(same.nodes.length, 0);
    await t.rejects(m.tree.update(root, [], -1), RangeError);
  },
);
