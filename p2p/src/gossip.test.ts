import t from 'tap';
import type { VigilNetwork } from './network.ts';
import { startCluster, waitFor } from './test-network.ts';

const tx = (label: string) => new TextEncoder().encode(`tx:${label}`);
const label = (b: Uint8Array) => new TextDecoder().decode(b).slice(3);

t.test('each transaction goes to each peer at most once and never back to where it came from', async (t) => {
  const c = await startCluster({ n: 4 });
  t.teardown(c.stop);
  const [n0, n1] = c.nodes as [VigilNetwork, VigilNetwork];
  const names = new Map(c.nodes.map((n, i) => [n.key, `n${i}`]));
  // received[i] = "sender:tx" entries, in arrival order
  const received: string[][] = c.nodes.map(() => []);
  for (const [i, node] of c.nodes.entries()) {
    node.onTransactions((from, txs) => {
      for (const x of txs) received[i]!.push(`${names.get(from)}:${label(x)}`);
      // Only n1 relays (as a node does after checking them), so the expected traffic is exact.
      if (node === n1) node.gossipTransactions(txs, from);
    });
  }
  const batch = Array.from({ length: 10 }, (_, i) => tx(`a${i}`));
  n0.gossipTransactions(batch);
  n0.gossipTransactions(batch); // a second time: nothing new to send
  n0.gossipTransactions([...batch, tx('end')]); // only 'end' is new
  await waitFor('n1 relayed end to n2 and n3', () =>
    [received[2]!, received[3]!].every((r) => r.includes('n1:end')),
  );
  // n1 announces its own transaction last; FIFO means everything n1 ever sent n0 is before it.
  n1.gossipTransactions([tx('own')]);
  await waitFor('everyone hears n1', () => [0, 2, 3].every((i) => received[i]!.includes('n1:own')));

  const expectedFromN0 = [...batch.map(label), 'end'].map((l) => `n0:${l}`);
  t.same(received[1], expectedFromN0, 'n1 got every tx once from n0');
  for (const i of [2, 3]) {
    const fromN0 = received[i]!.filter((r) => r.startsWith('n0:'));
    const fromN1 = received[i]!.filter((r) => r.startsWith('n1:'));
    t.same(fromN0, expectedFromN0, `n${i} got each tx once from n0`);
    t.same(
      fromN1,
      [...expectedFromN0.map((r) => r.replace('n0:', 'n1:')), 'n1:own'],
      `n${i} got each relay once from n1`,
    );
    t.equal(new Set(received[i]).size, received[i]!.length, `n${i}: no duplicate (sender, tx) pair`);
  }
  t.same(received[0], ['n1:own'], 'n1 never echoed n0 its own transactions');
  t.equal(
    n1.metrics().protocols.txgossip.messagesOut,
    2 * 11 + 3,
    'n1 sent 11 relays to each of n2, n3 and its own tx to 3 peers',
  );
  t.equal(n0.metrics().protocols.txgossip.messagesOut, 3 * 11);
});

t.test(
  'reofferTransactions sends again what gossip already sent, to connected validators only',
  async (t) => {
    const c = await startCluster({ n: 3 });
    t.teardown(c.stop);
    const [n0, n1, n2] = c.nodes as [VigilNetwork, VigilNetwork, VigilNetwork];
    const got: string[][] = [[], [], []];
    for (const [i, node] of c.nodes.entries())
      node.onTransactions((_from, txs) => got[i]!.push(...txs.map(label)));
    n0.gossipTransactions([tx('x')]);
    n0.gossipTransactions([tx('x')]); // seen: not sent again by gossip
    await waitFor('both have x once', () => got[1]!.length === 1 && got[2]!.length === 1);
    n0.reofferTransactions([tx('x')]); // as if the first copy had been lost on the way
    await waitFor('both have x twice', () => got[1]!.length === 2 && got[2]!.length === 2);
    t.same(
      [got[1], got[2]],
      [
        ['x', 'x'],
        ['x', 'x'],
      ],
    );
    await n2.stop();
    await waitFor(
      'n0 notices n2 is down',
      () => n0.peers().find((p) => p.key === n2.key)?.connected === false,
    );
    n0.reofferTransactions([tx('y')]);
    await waitFor('n1 has y', () => got[1]!.includes('y'));
    t.equal(n0.metrics().dropped['gossip-disconnected'], 1, 'nothing queued for the peer that is down');
    t.equal(n0.peers().find((p) => p.key === n1.key)?.connected, true, 'n1 was never affected');
    // Addressed to one validator (the primary): only it gets a copy, and a peer that is down is skipped
    // without a drop being counted for the others.
    const before = n0.metrics().protocols.txgossip.messagesOut;
    n0.reofferTransactions([tx('z')], n1.key);
    await waitFor('n1 has z', () => got[1]!.includes('z'));
    t.equal(n0.metrics().protocols.txgossip.messagesOut, before + 1, 'one copy, to n1 alone');
    n0.reofferTransactions([tx('w')], n2.key);
    t.equal(n0.metrics().dropped['gossip-disconnected'], 2, 'to the peer that is down: dropped');
    t.equal(n0.metrics().protocols.txgossip.messagesOut, before + 1);
  },
);
