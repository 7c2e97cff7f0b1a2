import type { Libp2p, Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import t from 'tap';
import { P2PErrorCode } from './errors.ts';
import { encodeFrame } from './frame.ts';
import type { VigilNetwork } from './network.ts';
import { Protocol } from './protocols.ts';
import { publicKeyOf, rawPeer, startCluster, waitFor } from './test-network.ts';

const bytes = (...xs: number[]) => Uint8Array.from(xs);

async function sendRaw(raw: Libp2p, to: VigilNetwork, payload: Uint8Array): Promise<void> {
  const stream = await raw.dialProtocol(multiaddr(to.listenAddrs()[0]!), Protocol.consensus);
  stream.send(payload);
}

t.test(
  'a peer sending garbage is disconnected, scored down and finally banned; others are unharmed',
  async (t) => {
    const c = await startCluster({ n: 3, extraValidators: [await publicKeyOf(3)] });
    t.teardown(c.stop);
    const raw = await rawPeer(3);
    t.teardown(() => raw.stop());
    const [victim, n1, n2] = c.nodes as [VigilNetwork, VigilNetwork, VigilNetwork];
    const heard: number[] = [];
    victim.onConsensus((_f, m) => heard.push(m[0]!));

    // 1. An oversize length prefix: refused from the prefix alone, connection dropped.
    await sendRaw(raw, victim, bytes(0xff, 0xff, 0xff, 0xff));
    await waitFor(
      'oversize frame detected',
      () => victim.metrics().invalidFrames[P2PErrorCode.frameTooLarge] === 1,
    );
    await waitFor('raw peer disconnected', () => raw.getConnections().length === 0);
    t.equal(victim.metrics().connections.bans, 0, 'one offence does not ban');

    // Others still talk to the victim.
    n1.sendConsensus(victim.key, bytes(1));
    n2.sendConsensus(victim.key, bytes(2));
    await waitFor('validators still heard', () => heard.length === 2);
    t.same(heard.sort(), [1, 2]);

    // 2. A well-sized frame whose batch is garbage (version 9): second offence crosses the threshold.
    const bad = encodeFrame([bytes(1)]);
    bad[4] = 9;
    await sendRaw(raw, victim, bad);
    await waitFor('bad batch detected', () => victim.metrics().invalidFrames[P2PErrorCode.badBatch] === 1);
    await waitFor('banned', () => victim.metrics().connections.bans === 1);
    t.equal(victim.metrics().connections.disconnectedForInvalidFrames, 2);
    t.ok(c.loggers[0]!.events.some((e) => e.event === 'peer-banned'));

    // 3. While banned, the gate refuses it right after the handshake.
    // (Wait until the raw side has seen the ban's disconnect, or dial() would reuse the dying connection.)
    await waitFor('raw peer saw the disconnect', () => raw.getConnections().length === 0);
    await raw.dial(multiaddr(victim.listenAddrs()[0]!)).catch(() => undefined);
    await waitFor('refused as banned', () => victim.metrics().connections.refusedBanned >= 1);
    await waitFor('raw peer holds no connection', () => raw.getConnections().length === 0);

    // The validators never noticed.
    n1.sendConsensus(victim.key, bytes(3));
    await waitFor('still heard', () => heard.length === 3);
    t.equal(n1.metrics().connections.disconnectedForInvalidFrames, 0);
    t.ok(victim.peers().filter((p) => p.connected).length === 2, 'victim still connected to both validators');
  },
);

t.test('a peer that stops reading cannot grow our memory beyond the queue bound', async (t) => {
  const raw = await rawPeer(2);
  t.teardown(() => raw.stop());
  // The raw peer accepts our consensus stream and never reads it: yamux stops granting window.
  await raw.handle(Protocol.consensus, (stream) => stream.pause());
  await raw.start();
  const maxBytes = 512 * 1024;
  const c = await startCluster({
    n: 2,
    extraValidators: [await publicKeyOf(2)],
    limits: { consensusQueue: { maxBytes, maxMessages: 1_000_000 } },
  });
  t.teardown(c.stop);
  const [a, b] = c.nodes as [VigilNetwork, VigilNetwork];
  const rawKey = Buffer.from(await publicKeyOf(2)).toString('hex');
  a.updateAllowedPeers({
    validators: c.allowed.validators.map((v) =>
      Buffer.from(v.publicKey).toString('hex') === rawKey
        ? { ...v, addrs: raw.getMultiaddrs().map(String) }
        : v,
    ),
  });
  await waitFor(
    'a connects to the stalled peer',
    () => a.peers().find((p) => p.key === rawKey)?.connected === true,
  );

  const message = new Uint8Array(4096);
  const total = 2000; // 8 MiB
  let maxQueued = 0;
  for (let i = 0; i < total; i++) {
    a.sendConsensus(rawKey, message);
    if (i % 50 === 49) {
      await new Promise((r) => setImmediate(r));
      maxQueued = Math.max(maxQueued, a.metrics().queues[rawKey]!.consensus.bytes);
    }
  }
  await new Promise((r) => setImmediate(r));
  const m = a.metrics();
  t.ok(maxQueued <= maxBytes, `queue stayed within ${maxBytes} bytes (max seen ${maxQueued})`);
  t.ok(m.queues[rawKey]!.consensus.bytes <= maxBytes);
  t.ok(m.dropped['queue-full'] > total / 2, `oldest messages dropped (${m.dropped['queue-full']})`);
  t.ok(
    m.protocols.consensus.bytesOut < 2 * 1024 * 1024,
    `only about a flow-control window was handed to the stream (${m.protocols.consensus.bytesOut} bytes)`,
  );

  // Sending never blocked, and the other validator is unaffected.
  let got = 0;
  b.onConsensus(() => got++);
  a.sendConsensus(b.key, bytes(7));
  await waitFor('b still receives', () => got === 1);
});

t.test('inbound messages beyond the token bucket are dropped and counted', async (t) => {
  const c = await startCluster({
    n: 2,
    configure: (i, cfg) =>
      i === 0 ? { ...cfg, limits: { ...cfg.limits, consensusRate: { perSecond: 0, burst: 100 } } } : cfg,
  });
  t.teardown(c.stop);
  const [a, b] = c.nodes as [VigilNetwork, VigilNetwork];
  let delivered = 0;
  a.onConsensus(() => delivered++);
  for (let i = 0; i < 300; i++) b.sendConsensus(a.key, bytes(i & 0xff));
  await waitFor('all 300 arrived at the transport', () => a.metrics().protocols.consensus.messagesIn === 300);
  t.equal(delivered, 100, 'the burst was delivered');
  t.equal(a.metrics().dropped['rate-limited'], 200, 'the rest dropped');
  t.equal(a.metrics().connections.bans, 0, 'a short burst does not ban');
});

t.test(
  'a peer holds one inbound stream per protocol: a newer one closes the older, with its partial frame',
  async (t) => {
    const c = await startCluster({ n: 1, extraValidators: [await publicKeyOf(1)] });
    t.teardown(c.stop);
    const raw = await rawPeer(1);
    t.teardown(() => raw.stop());
    const victim = c.nodes[0]!;
    const heard: number[] = [];
    victim.onConsensus((_f, m) => heard.push(m[0]!));
    const addr = multiaddr(victim.listenAddrs()[0]!);
    // Each stream announces a 1 MiB frame and sends half of it: the victim buffers it until the frame
    // completes or the stream goes. Without the one-stream rule, every stream of every connection would
    // hold one (maxInboundStreams per connection, any number of connections).
    const partial = new Uint8Array(4 + 512 * 1024);
    new DataView(partial.buffer).setUint32(0, 1024 * 1024);
    const streams: Stream[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await raw.dialProtocol(addr, Protocol.consensus);
      s.send(partial);
      streams.push(s);
      await waitFor(
        `stream ${i + 1} accepted`,
        () => victim.metrics().protocols.consensus.bytesIn >= (i + 1) * partial.byteLength,
      );
    }
    await waitFor('two older streams superseded', () => victim.metrics().connections.streamsSuperseded === 2);
    await waitFor('the older streams are closed on the sender too', () =>
      streams.slice(0, 2).every((s) => s.status !== 'open'),
    );
    t.equal(streams[2]!.status, 'open', 'the newest stream stays open');
    t.equal(victim.metrics().connections.disconnectedForInvalidFrames, 0, 'superseding is not an offence');
    // A whole frame on a fresh stream is delivered as usual.
    const s = await raw.dialProtocol(addr, Protocol.consensus);
    s.send(encodeFrame([bytes(7)]));
    await waitFor('message on the newest stream heard', () => heard.length === 1);
    t.same(heard, [7]);
    t.equal(victim.metrics().connections.streamsSuperseded, 3);
  },
);
