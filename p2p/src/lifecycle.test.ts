import t from 'tap';
import { type P2PError, P2PErrorCode } from './errors.ts';
import { VigilNetwork } from './network.ts';
import { type Cluster, seedOf, startCluster, waitFor } from './test-network.ts';

/** Cluster validator `i` started afresh (same key, same address): a restarted process, not yet started. */
function restarted(c: Cluster, i: number, addr: string): Promise<VigilNetwork> {
  return VigilNetwork.create({
    seed: seedOf(i),
    listen: [addr],
    peers: c.allowed,
    limits: { reconnect: { baseMs: 20, maxMs: 200 } },
    logger: c.loggers[i],
  });
}

t.test('validators reconnect with backoff after a peer restarts', async (t) => {
  const c = await startCluster({ n: 3 });
  t.teardown(c.stop);
  const [a, b, old] = c.nodes as [VigilNetwork, VigilNetwork, VigilNetwork];
  const events: string[] = [];
  a.onPeer((e, p) => events.push(`${e}:${p.key === old.key ? 'c' : '?'}`));
  let oldGot = 0;
  old.onTransactions(() => oldGot++);
  a.gossipTransactions([Uint8Array.of(0x77)]);
  await waitFor('old has the tx', () => oldGot === 1);
  const addr = old.listenAddrs()[0]!.replace(/\/p2p\/.*$/, '');
  await old.stop();
  await waitFor('a notices', () => events.includes('disconnect:c'));
  await t.rejects(old.start(), { code: P2PErrorCode.notRunning }, 'a stopped network is not restartable');
  // Same key, same address: a fresh process of the same validator.
  const reborn = await restarted(c, 2, addr);
  t.teardown(() => reborn.stop());
  const txs: string[] = [];
  reborn.onTransactions((from, batch) => txs.push(`${from === a.key ? 'a' : 'b'}:${batch[0]![0]}`));
  // Gossiped while the peer is down: not queued for it (it would arrive stale on reconnection).
  const droppedBefore = a.metrics().dropped['gossip-disconnected'];
  a.gossipTransactions([Uint8Array.of(0x55)]);
  t.equal(a.metrics().dropped['gossip-disconnected'], droppedBefore + 1, 'counted as dropped');
  await reborn.start();
  await waitFor('a and b reconnect', () =>
    [a, b].every((n) => n.peers().find((p) => p.key === reborn.key)?.connected),
  );
  t.ok(events.includes('connect:c'), 'a saw the reconnection');
  const got: string[] = [];
  reborn.onConsensus((from) => got.push(from === a.key ? 'a' : 'b'));
  a.sendConsensus(reborn.key, Uint8Array.of(1));
  b.sendConsensus(reborn.key, Uint8Array.of(1));
  await waitFor('messages flow again', () => got.length === 2);
  t.same(got.sort(), ['a', 'b']);
  // The restarted validator lost its mempool: what a sent before the outage is offered again, and
  // nothing gossiped during the outage arrives ahead of it (the txgossip stream is in order).
  a.gossipTransactions([Uint8Array.of(0x77)]);
  await waitFor('re-offered after reconnection', () => txs.length >= 1);
  t.same(txs, ['a:119']);
});

t.test('updateAllowedPeers disconnects removed peers, refuses them, and re-admits them', async (t) => {
  const c = await startCluster({ n: 3 });
  t.teardown(c.stop);
  const [a, b, gone] = c.nodes as [VigilNetwork, VigilNetwork, VigilNetwork];
  const without = {
    validators: c.allowed.validators.filter((v) => Buffer.from(v.publicKey).toString('hex') !== gone.key),
  };
  a.updateAllowedPeers(without);
  await waitFor(
    'a dropped the removed validator',
    () => gone.peers().find((p) => p.key === a.key)?.connected === false,
  );
  t.equal(a.peers().length, 2 - 1, 'a now allows only b');
  // The removed validator still believes in a and keeps redialling: each attempt is refused.
  await waitFor('a refuses the removed validator', () => a.metrics().connections.refusedNotAllowed >= 1);
  a.sendConsensus(gone.key, Uint8Array.of(1));
  t.equal(a.metrics().dropped['unknown-peer'], 1, 'nothing is queued for a peer that is not allowed');

  let heard = 0;
  gone.onConsensus((from) => {
    if (from === a.key) heard++;
  });
  a.updateAllowedPeers(c.allowed);
  await waitFor(
    're-admitted and reconnected',
    () => a.peers().find((p) => p.key === gone.key)?.connected === true,
  );
  a.sendConsensus(gone.key, Uint8Array.of(2));
  await waitFor('messages flow again', () => heard === 1);
  t.ok(
    b.peers().every((p) => p.connected),
    'b was never affected',
  );
});

t.test('an invalid allowed set is rejected as a whole and leaves the current set in place', async (t) => {
  const other = (await VigilNetwork.create({ seed: seedOf(1), peers: { validators: [] } })).identity
    .publicKey;
  const net = await VigilNetwork.create({ seed: seedOf(0), peers: { validators: [{ publicKey: other }] } });
  t.throws(
    () => net.updateAllowedPeers({ validators: [{ publicKey: new Uint8Array(3) }] }),
    { code: P2PErrorCode.invalidConfig },
    'bad key',
  );
  t.throws(
    () => net.updateAllowedPeers({ validators: [{ publicKey: other, addrs: ['not a multiaddr'] }] }),
    { code: P2PErrorCode.invalidConfig },
    'bad address',
  );
  t.same(
    net.peers().map((p) => p.key),
    [Buffer.from(other).toString('hex')],
  );
  await t.rejects(VigilNetwork.create({ seed: new Uint8Array(5), peers: { validators: [] } }), {
    code: P2PErrorCode.invalidConfig,
  });
  await t.rejects(
    VigilNetwork.create({ seed: seedOf(0), peers: { validators: [] }, limits: { batchBytes: 1 } }),
    { code: P2PErrorCode.invalidConfig },
  );
});

t.test(
  'consensus messages queued through an outage: delivered after a short one, dropped after a long one',
  async (t) => {
    // A keep window far longer than any real outage here (a restart on a loaded CI machine can take
    // seconds), and the long outage made by moving a's clock past it: the outcome never depends on
    // how fast this machine restarts a process.
    const keepMs = 60_000;
    let skewMs = 0;
    const c = await startCluster({
      n: 2,
      configure: (i, cfg) =>
        i === 0
          ? {
              ...cfg,
              now: () => Date.now() + skewMs,
              limits: { ...cfg.limits, consensusOutageKeepMs: keepMs },
            }
          : cfg,
    });
    t.teardown(c.stop);
    const a = c.nodes[0]!;
    let b = c.nodes[1]!;
    const addr = b.listenAddrs()[0]!.replace(/\/p2p\/.*$/, '');
    const stopB = async (): Promise<void> => {
      await b.stop();
      await waitFor('a notices b is down', () => a.peers()[0]?.connected === false);
    };
    const reborn = async (heard: number[]): Promise<void> => {
      b = await restarted(c, 1, addr);
      t.teardown(() => b.stop());
      b.onConsensus((_from, m) => heard.push(m[0]!));
      await b.start();
      await waitFor('a and b reconnect', () => a.peers()[0]?.connected === true);
    };

    // Short outage (well under consensusOutageKeepMs): what a sent meanwhile arrives, in order.
    const short: number[] = [];
    await stopB();
    a.sendConsensus(b.key, Uint8Array.of(1));
    await reborn(short);
    a.sendConsensus(b.key, Uint8Array.of(2));
    await waitFor('both delivered', () => short.length === 2);
    t.same(short, [1, 2]);
    t.equal(a.metrics().dropped['consensus-stale'], 0);

    // Long outage (a's clock moves past the keep window): the queued message is stale and discarded,
    // later ones flow.
    const long: number[] = [];
    await stopB();
    a.sendConsensus(b.key, Uint8Array.of(3));
    skewMs += 2 * keepMs;
    await reborn(long);
    a.sendConsensus(b.key, Uint8Array.of(4));
    await waitFor('the fresh message delivered', () => long.length >= 1);
    t.same(long, [4], 'the stale message never arrived, and was not delivered after the fresh one');
    t.equal(a.metrics().dropped['consensus-stale'], 1);
  },
);

t.test('a listen address already in use is one typed error naming it, with no stack trace', async (t) => {
  const busy = await VigilNetwork.create({
    seed: seedOf(0),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    peers: { validators: [] },
  });
  await busy.start();
  t.teardown(() => busy.stop());
  const addr = busy.listenAddrs()[0]!.replace(/\/p2p\/.*$/, '');
  const second = await VigilNetwork.create({ seed: seedOf(1), listen: [addr], peers: { validators: [] } });
  const err = (await second.start().then(
    () => undefined,
    (e: unknown) => e,
  )) as P2PError | undefined;
  t.equal(err?.code, P2PErrorCode.listenFailed);
  t.match(err?.message, `cannot listen on ${addr} (listen EADDRINUSE`);
  t.notMatch(err?.message, /\n/, 'one line: the stack of the cause is not in the message');
});
