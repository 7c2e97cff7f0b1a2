import t from 'tap';
import { recordingLogger, seedOf, startCluster, waitFor } from './test-network.ts';
import { VigilNetwork } from './network.ts';

const bytes = (...xs: number[]) => Uint8Array.from(xs);

t.test('4 validators connect and exchange consensus messages', async (t) => {
  const c = await startCluster({ n: 4 });
  t.teardown(c.stop);
  const got: string[][] = c.nodes.map(() => []);
  for (const [i, node] of c.nodes.entries()) {
    node.onConsensus((from, m) => {
      got[i]!.push(`${from.slice(0, 8)}:${m[0]}`);
    });
  }
  for (const [i, node] of c.nodes.entries()) node.broadcastConsensus(bytes(i));
  await waitFor('every node hears from the 3 others', () => got.every((g) => g.length === 3));
  c.nodes.forEach((node, i) => {
    const expected = c.nodes
      .filter((_, j) => j !== i)
      .map((other, _k) => `${other.key.slice(0, 8)}:${c.nodes.indexOf(other)}`);
    t.same(got[i]!.slice().sort(), expected.sort(), `node ${i} got one message from each other validator`);
    t.equal(node.peers().filter((p) => p.connected).length, 3);
  });
  const m = c.nodes[0]!.metrics();
  t.ok(m.protocols.consensus.framesOut >= 3 && m.protocols.consensus.messagesOut === 3);
  t.equal(m.protocols.consensus.messagesIn, 3);
});

t.test(
  'a node whose key is not allowed is refused after the handshake, and the refusal is counted',
  async (t) => {
    const c = await startCluster({ n: 2 });
    t.teardown(c.stop);
    const logger = recordingLogger();
    const intruder = await VigilNetwork.create({
      seed: seedOf(99),
      // The intruder believes node 0 is a validator it may talk to.
      peers: {
        validators: [{ publicKey: c.nodes[0]!.identity.publicKey, addrs: c.nodes[0]!.listenAddrs() }],
      },
      limits: { reconnect: { baseMs: 20, maxMs: 100 } },
      logger,
    });
    t.teardown(() => intruder.stop());
    let received = 0;
    c.nodes[0]!.onConsensus(() => received++);
    await intruder.start();
    await waitFor(
      'node 0 refuses the intruder',
      () => c.nodes[0]!.metrics().connections.refusedNotAllowed >= 1,
    );
    // Refused right after the handshake, the intruder's dial looks successful to it (the muxer is
    // negotiated inside noise); its backoff must keep growing all the same, not restart every time.
    await waitFor('several refusals', () => c.nodes[0]!.metrics().connections.refusedNotAllowed >= 4);
    await waitFor('intruder backoff grows', () => intruder.peers()[0]!.redialAttempt >= 3);
    t.ok(intruder.metrics().connections.shortLived >= 3, 'its connections were short-lived');
    t.ok(
      c.loggers[0]!.events.some(
        (e) => e.event === 'connection-refused' && e.fields?.reason === 'not-allowed',
      ),
      'the refusal is logged',
    );
    intruder.sendConsensus(c.nodes[0]!.key, bytes(1));
    // node 1 -> node 0 is a FIFO stream; once its message arrives, node 0 is known to be receiving.
    c.nodes[1]!.sendConsensus(c.nodes[0]!.key, bytes(2));
    await waitFor('node 0 hears node 1', () => received === 1);
    t.equal(received, 1, 'nothing from the intruder');
    await waitFor('the intruder holds no connection', () => intruder.metrics().connections.open === 0);
  },
);

t.test('many small messages are coalesced into few frames, in order', async (t) => {
  const c = await startCluster({ n: 2 });
  t.teardown(c.stop);
  const [a, b] = c.nodes as [VigilNetwork, VigilNetwork];
  const got: number[] = [];
  b.onConsensus((_f, m) => got.push(new DataView(m.buffer, m.byteOffset).getUint32(0)));
  // Warm the stream up so the burst measures batching, not stream opening.
  a.sendConsensus(b.key, new Uint8Array(4));
  await waitFor('warm-up', () => got.length === 1);
  const before = a.metrics().protocols.consensus;
  for (let i = 1; i <= 2000; i++) {
    const m = new Uint8Array(40);
    new DataView(m.buffer).setUint32(0, i);
    a.sendConsensus(b.key, m);
  }
  await waitFor('all delivered', () => got.length === 2001);
  const after = a.metrics().protocols.consensus;
  t.equal(after.messagesOut - before.messagesOut, 2000);
  t.ok(
    after.framesOut - before.framesOut <= 2,
    `2000 messages in ${after.framesOut - before.framesOut} frame(s)`,
  );
  t.same(
    got,
    Array.from({ length: 2001 }, (_, i) => i),
    'in order',
  );
  t.equal(b.metrics().protocols.consensus.framesIn, after.framesOut, 'receiver saw the same frames');
});

t.test('a message too large for a frame is dropped and counted, never thrown into the caller', async (t) => {
  const c = await startCluster({
    n: 2,
    limits: { maxFrameBytes: 1024, gossipMaxFrameBytes: 512, batchBytes: 512 },
  });
  t.teardown(c.stop);
  const [a, b] = c.nodes as [VigilNetwork, VigilNetwork];
  const sizes: number[] = [];
  b.onConsensus((_f, m) => sizes.push(m.byteLength));
  b.onTransactions((_f, txs) => sizes.push(...txs.map((x) => -x.byteLength)));
  a.sendConsensus(b.key, new Uint8Array(1015)); // 1015 + 10 > 1024
  a.gossipTransactions([new Uint8Array(600)]); // > 512 on txgossip
  // Exactly fits: 5 + 4 + 1014 and the kind byte /vigil/consensus/1.1.0 puts before each message.
  a.sendConsensus(b.key, new Uint8Array(1014));
  a.gossipTransactions([new Uint8Array(503)]);
  await waitFor('the fitting ones arrive', () => sizes.length === 2);
  t.same(sizes.sort(), [-503, 1014]);
  t.equal(a.metrics().dropped['message-too-large'], 2);
  t.ok(c.loggers[0]!.events.some((e) => e.event === 'message-too-large'));
});

t.test('a throwing consensus handler costs only the message it threw on', async (t) => {
  const c = await startCluster({ n: 2 });
  t.teardown(c.stop);
  const [a, b] = c.nodes as [VigilNetwork, VigilNetwork];
  const got: number[] = [];
  b.onConsensus((_f, m) => {
    if (m[0] === 2) throw new Error('replica bug');
    got.push(m[0]!);
  });
  for (const x of [1, 2, 3]) a.sendConsensus(b.key, bytes(x)); // one frame
  await waitFor('the others delivered', () => got.length === 2);
  t.same(got, [1, 3]);
  t.equal(b.metrics().dropped['handler-error'], 1);
  t.ok(c.loggers[1]!.events.some((e) => e.event === 'handler-threw'));
});
