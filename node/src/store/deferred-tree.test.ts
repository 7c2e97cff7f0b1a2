// The held-node table: (version, hash) lookups through 32-bit slots, with colliding hashes chained.
import t from 'tap';
import type { CreatedNode } from '../state-tree/tree.ts';
import { NodeTable } from './deferred-tree.ts';

function node(version: number, first: number, last: number): CreatedNode {
  const hash = new Uint8Array(32);
  hash[0] = first; // the slot: the first four bytes
  hash[31] = last;
  return {
    version,
    hash,
    bytes: Uint8Array.of(version, last),
    node: { kind: 'internal', left: hash, right: hash, leftVersion: 0, rightVersion: 0 },
  };
}

t.test('set, get, replace and delete, with colliding slots and versions', async (t) => {
  const table = new NodeTable();
  const a = node(1, 7, 1);
  const b = node(1, 7, 2); // same slot as a, another hash
  const c = node(2, 7, 1); // same hash as a, another version
  const d = node(1, 9, 1);
  for (const n of [a, b, c, d]) table.set(n);
  t.equal(table.size, 4);
  for (const n of [a, b, c, d]) t.equal(table.get(n.version, n.hash), n);
  t.equal(table.get(3, a.hash), undefined, 'a version not held');
  t.equal(table.get(1, node(1, 8, 1).hash), undefined, 'an empty slot');
  const a2 = { ...a, bytes: Uint8Array.of(9) };
  table.set(a2);
  t.equal(table.size, 4, 'same (version, hash) replaces');
  t.equal(table.get(1, a.hash), a2);
  table.delete(1, b.hash);
  t.equal(table.get(1, b.hash), undefined);
  t.equal(table.get(2, c.hash), c, 'the rest of the chain stays');
  t.equal(table.size, 3);
  table.delete(1, b.hash);
  t.equal(table.size, 3, 'deleting what is absent changes nothing');
  table.delete(1, a.hash);
  table.delete(2, c.hash);
  table.delete(1, d.hash);
  t.equal(table.size, 0);
});
