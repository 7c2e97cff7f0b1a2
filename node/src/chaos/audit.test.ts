import t from 'tap';
import { audit, type NodeChain } from './audit.ts';

function chain(home: string, blocks: string[][], root = 'r'): NodeChain {
  const txHeights = new Map<string, number[]>();
  blocks.forEach((txs, i) => {
    for (const id of txs) txHeights.set(id, [...(txHeights.get(id) ?? []), i + 1]);
  });
  return {
    home,
    height: blocks.length,
    stateRoot: `${root}${blocks.length}`,
    blockHashes: blocks.map((b) => b.join('+')),
    txHeights,
  };
}

t.test('a clean run: nothing lost, duplicated or divergent', (t) => {
  const blocks = [['a', 'b'], ['c']];
  const r = audit([chain('n0', blocks), chain('n1', blocks), chain('n2', blocks.slice(0, 1))], ['a', 'b']);
  t.match(r, { committedChecked: 2, lost: 0, duplicated: 0, divergent: 0, heights: [2, 2, 1] });
  t.end();
});

t.test('negative controls: the audit does catch each violation', (t) => {
  const good = [['a', 'b'], ['c']];
  t.match(
    audit([chain('n0', good), chain('n1', [['a', 'b'], []])], ['a', 'c']),
    { lost: 1, lostIds: ['c'] },
    'a confirmed tx missing on one node is lost',
  );
  t.match(
    audit([chain('n0', [['a'], ['a']])], ['a']),
    { duplicated: 1 },
    'the same tx at two heights is duplicated',
  );
  t.match(
    audit([chain('n0', good), chain('n1', [['a', 'b'], ['x']])], []),
    { divergent: 1, divergentHeights: [2] },
    'different blocks at one height diverge',
  );
  t.match(
    audit([chain('n0', good, 'r'), chain('n1', good, 'q')], []),
    { divergent: 1, divergentHeights: [] },
    'same height, different state roots diverge',
  );
  const broken: NodeChain = { ...chain('n2', good), error: 'CORRUPT_RECORD: block 2' };
  t.match(
    audit([chain('n0', good), broken], ['a']),
    { unreadable: [{ home: 'n2', error: 'CORRUPT_RECORD: block 2' }] },
    'a tampered store is reported',
  );
  t.end();
});
