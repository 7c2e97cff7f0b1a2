import fc from 'fast-check';
import t from 'tap';
import { fromHex, sha256, toHex } from './hash.ts';
import { merkleInclusionProof, merkleRoot, verifyMerkleInclusion } from './merkle.ts';
import { expectWireError, propertyRuns } from './test-support.ts';

// The leaves and expected roots of Certificate Transparency's reference Merkle tree tests
// (certificate-transparency merkle_tree_test; RFC 6962 §2.1 trees of 1..8 leaves).
const CT_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(fromHex);
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** An independent MTH: bottom-up, pairing left to right and promoting an odd last node unchanged, which
 *  yields exactly the RFC 6962 largest-power-of-two split (RFC 9162 §2.1.1, note on unbalanced trees). */
function bottomUpRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256();
  let level = leaves.map((l) => sha256(Uint8Array.of(0), l));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? sha256(Uint8Array.of(1), level[i]!, level[i + 1]!) : level[i]!);
    }
    level = next;
  }
  return level[0]!;
}

t.test('RFC 6962 reference roots (Certificate Transparency test vectors)', async (t) => {
  t.equal(
    toHex(merkleRoot([])),
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'empty tree',
  );
  for (let n = 1; n <= 8; n++) {
    t.equal(toHex(merkleRoot(CT_LEAVES.slice(0, n))), CT_ROOTS[n - 1], `root of ${n} leaves`);
  }
});

t.test('RFC 6962 reference audit paths (Certificate Transparency test vectors)', async (t) => {
  t.same(merkleInclusionProof(CT_LEAVES.slice(0, 1), 0), [], 'single leaf: empty path');
  t.same(
    merkleInclusionProof(CT_LEAVES, 0).map(toHex),
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
    'leaf 0 of 8',
  );
  t.same(
    merkleInclusionProof(CT_LEAVES, 5).map(toHex),
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
    'leaf 5 of 8',
  );
  t.same(
    merkleInclusionProof(CT_LEAVES.slice(0, 3), 2).map(toHex),
    ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'],
    'leaf 2 of 3',
  );
  t.same(
    merkleInclusionProof(CT_LEAVES.slice(0, 5), 1).map(toHex),
    [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
    'leaf 1 of 5',
  );
});

t.test('bad arguments', async (t) => {
  expectWireError(t, () => merkleInclusionProof(CT_LEAVES, 8), 'WRONG_TYPE', 'index past the end');
  expectWireError(t, () => merkleInclusionProof([], 0), 'WRONG_TYPE', 'empty tree');
  const root = merkleRoot(CT_LEAVES);
  const proof = merkleInclusionProof(CT_LEAVES, 3);
  t.ok(verifyMerkleInclusion(CT_LEAVES[3]!, 3, 8, proof, root));
  t.notOk(verifyMerkleInclusion(CT_LEAVES[3]!, 8, 8, proof, root), 'index >= size');
  t.notOk(verifyMerkleInclusion(CT_LEAVES[3]!, -1, 8, proof, root), 'negative index');
  t.notOk(verifyMerkleInclusion(CT_LEAVES[3]!, 3, 8, [...proof, proof[0]!], root), 'proof too long');
  t.notOk(verifyMerkleInclusion(CT_LEAVES[3]!, 3, 8, proof.slice(1), root), 'proof too short');
  t.notOk(
    verifyMerkleInclusion(CT_LEAVES[3]!, 3, 8, [proof[0]!.subarray(1), ...proof.slice(1)], root),
    'short hash',
  );
  t.notOk(verifyMerkleInclusion(CT_LEAVES[3]!, 1.5, 8, proof, root), 'fractional index');
});

const arbTree = fc
  .array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 70 })
  .chain((leaves) => fc.tuple(fc.constant(leaves), fc.nat(leaves.length - 1), fc.nat()));

t.test('property: root equals the independent bottom-up construction', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 70 }), (leaves) => {
      return toHex(merkleRoot(leaves)) === toHex(bottomUpRoot(leaves));
    }),
    { numRuns: propertyRuns(500) },
  );
  t.pass('roots agree');
});

t.test('property: every audit path verifies, and any flipped bit or wrong index fails', async (t) => {
  fc.assert(
    fc.property(arbTree, ([leaves, index, bit]) => {
      const root = merkleRoot(leaves);
      const proof = merkleInclusionProof(leaves, index);
      const n = leaves.length;
      if (!verifyMerkleInclusion(leaves[index]!, index, n, proof, root)) return false;
      const flip = (b: Uint8Array, k: number): Uint8Array => {
        const c = Uint8Array.from(b);
        c[Math.floor(k / 8) % c.length]! ^= 1 << (k % 8);
        return c;
      };
      if (verifyMerkleInclusion(leaves[index]!, index, n, proof, flip(root, bit))) return false;
      const leaf = leaves[index]!;
      const otherLeaf = leaf.length > 0 ? flip(leaf, bit) : Uint8Array.of(0);
      if (verifyMerkleInclusion(otherLeaf, index, n, proof, root)) return false;
      if (proof.length > 0) {
        const i = bit % proof.length;
        const bad = proof.map((p, j) => (j === i ? flip(p, bit >> 3) : p));
        if (verifyMerkleInclusion(leaf, index, n, bad, root)) return false;
      }
      // Another index holding different data never verifies with this path.
      for (const j of [index - 1, index + 1]) {
        if (
          j >= 0 &&
          j < n &&
          toHex(leaves[j]!) !== toHex(leaf) &&
          verifyMerkleInclusion(leaf, j, n, proof, root)
        ) {
          return false;
        }
      }
      return true;
    }),
    { numRuns: propertyRuns(500) },
  );
  t.pass('proofs are sound and complete on random trees');
});
