import t from 'tap';
import { multiaddr } from '@multiformats/multiaddr';
import { P2PErrorCode } from './errors.ts';
import { FaultLayer } from './fault.ts';
import { VigilNetwork } from './network.ts';
import { encodeFrame } from './frame.ts';
import { Protocol } from './protocols.ts';
import { publicKeyOf, rawPeer, recordingLogger, seedOf, startCluster, waitFor } from './test-network.ts';

const block = (h: number) => new TextEncoder().encode(`block-${String(h).padStart(24, '0')}`); // 30 bytes
const text = (b: Uint8Array) => new TextDecoder().decode(b);

t.test('sync serves ranges of blocks by height; the answer is bounded by one frame', async (t) => {
  const fault = new FaultLayer();
  const c = await startCluster({
    n: 2,
    fault,
    configure: (i, cfg) => (i === 1 ? { ...cfg, limits: { ...cfg.limits, syncMaxFrameBytes: 200 } } : cfg),
  });
  t.teardown(c.stop);
  const [a, b] = c.nodes as [VigilNetwork, VigilNetwork];
  const chain = Array.from({ length: 50 }, (_, i) => block(i + 1));
  const asked: string[] = [];
  b.serveBlocks((from, req) => {
    asked.push(`${from === a.key ? 'a' : '?'}:${req.fromHeight}+${req.count}`);
    return chain.slice(req.fromHeight - 1, req.fromHeight - 1 + req.count);
  });
  // 200-byte frame: header 5 + status 4+1 + k * (4+30) -> at most 5 blocks
  const got = await a.requestBlocks(b.key, 10, 8);
  t.same(got.map(text), chain.slice(9, 14).map(text), 'a prefix of the range that fits one frame');
  const tail = await a.requestBlocks(b.key, 49, 8);
  t.same(tail.map(text), [text(block(49)), text(block(50))], 'shorter at the end of the chain');
  t.same(await a.requestBlocks(b.key, 51, 1), [], 'nothing beyond the tip');
  t.same(asked, ['a:10+8', 'a:49+8', 'a:51+1'], 'the provider saw who asked and what');

  b.serveBlocks(() => {
    throw new Error('store unavailable');
  });
  await t.rejects(a.requestBlocks(b.key, 1, 1), { code: P2PErrorCode.remoteError });

  fault.partition([[a.key], [b.key]]);
  await t.rejects(a.requestBlocks(b.key, 1, 1), { code: P2PErrorCode.faultInjected });
  fault.heal();
  await t.rejects(a.requestBlocks('00'.repeat(32), 1, 1), { code: P2PErrorCode.peerNotAllowed });
  const m = a.metrics().protocols.sync;
  t.equal(m.framesOut, 4, 'one request frame per completed request');
  t.equal(m.framesIn, 4);
});

t.test('status exchanges height, view and the latest checkpoint', async (t) => {
  const c = await startCluster({ n: 2 });
  t.teardown(c.stop);
  const [a, b] = c.nodes as [VigilNetwork, VigilNetwork];
  const status = { height: 120, view: 4, checkpoint: { height: 100, digest: new Uint8Array(32).fill(0xcd) } };
  b.serveStatus(() => status);
  t.same(await a.requestStatus(b.key), status);
  await t.rejects(b.requestStatus(a.key), { code: P2PErrorCode.remoteError }, 'a has no status provider');
});

t.test('observers may connect and sync but never take part in consensus', async (t) => {
  const observerKey = await publicKeyOf(10);
  const c = await startCluster({
    n: 2,
    configure: (_i, cfg) => ({ ...cfg, peers: { ...cfg.peers, observers: [{ publicKey: observerKey }] } }),
  });
  t.teardown(c.stop);
  const [a, b] = c.nodes as [VigilNetwork, VigilNetwork];
  for (const node of c.nodes)
    node.updateAllowedPeers({ ...c.allowed, observers: [{ publicKey: observerKey }] });
  const observer = await VigilNetwork.create({
    seed: seedOf(10),
    peers: c.allowed,
    logger: recordingLogger(),
  });
  t.teardown(() => observer.stop());
  await observer.start();
  await waitFor('observer connected to both validators', () => observer.peers().every((p) => p.connected));
  t.equal(a.peers().find((p) => p.key === observer.key)?.role, 'observer');

  a.serveStatus(() => ({ height: 7, view: 0, checkpoint: { height: 0, digest: new Uint8Array(0) } }));
  t.equal((await observer.requestStatus(a.key)).height, 7, 'observers may ask for status');

  const atA: string[] = [];
  const atObserver: string[] = [];
  a.onConsensus((from, m) => atA.push(`${from === b.key ? 'b' : 'observer'}:${m[0]}`));
  observer.onConsensus((_from, m) => atObserver.push(String(m[0])));
  observer.broadcastConsensus(Uint8Array.of(1));
  await waitFor(
    'validators refuse the observer consensus stream',
    () => a.metrics().dropped['observer-not-voting'] >= 1,
  );
  a.broadcastConsensus(Uint8Array.of(2)); // validators only
  a.sendConsensus(observer.key, Uint8Array.of(3)); // an explicit push to an observer is allowed
  b.sendConsensus(a.key, Uint8Array.of(4));
  await waitFor('a hears b and the observer hears a', () => atA.length === 1 && atObserver.length === 1);
  t.same(atA, ['b:4'], 'nothing from the observer reached consensus');
  t.same(atObserver, ['3'], 'broadcasts skip observers');
});

t.test('hostile or silent responders produce typed errors, not hangs', async (t) => {
  const raw = await rawPeer(2);
  t.teardown(() => raw.stop());
  // Never answers sync; answers status with a well-framed but meaningless payload.
  await raw.handle(Protocol.sync, () => {});
  await raw.handle(Protocol.status, (stream) => {
    stream.send(encodeFrame([Uint8Array.of(1, 2, 3)]));
  });
  await raw.start();
  const rawKey = Buffer.from(await publicKeyOf(2)).toString('hex');
  const c = await startCluster({
    n: 1,
    extraValidators: [await publicKeyOf(2)],
    limits: { requestTimeoutMs: 300 },
  });
  t.teardown(c.stop);
  const a = c.nodes[0]!;
  a.updateAllowedPeers({
    validators: [
      ...c.allowed.validators.filter((v) => Buffer.from(v.publicKey).toString('hex') !== rawKey),
      { publicKey: await publicKeyOf(2), addrs: raw.getMultiaddrs().map(String) },
    ],
  });
  await waitFor(
    'connected to the raw peer',
    () => a.peers().find((p) => p.key === rawKey)?.connected === true,
  );
  await t.rejects(a.requestBlocks(rawKey, 1, 1), { code: P2PErrorCode.timeout }, 'silent peer: timeout');
  await t.rejects(a.requestStatus(rawKey), { code: P2PErrorCode.badRequest }, 'garbage status: bad request');
});

t.test('a status request is one empty message: anything else is refused without an answer', async (t) => {
  const c = await startCluster({ n: 1, extraValidators: [await publicKeyOf(1)] });
  t.teardown(c.stop);
  const raw = await rawPeer(1);
  t.teardown(() => raw.stop());
  const node = c.nodes[0]!;
  node.serveStatus(() => ({ height: 3, view: 0, checkpoint: { height: 0, digest: new Uint8Array(32) } }));
  const ask = async (body: Uint8Array) => {
    const s = await raw.dialProtocol(multiaddr(node.listenAddrs()[0]!), Protocol.status);
    let bytes = 0;
    s.addEventListener('message', (e) => {
      bytes += e.data.byteLength;
    });
    const closed = new Promise((r) => s.addEventListener('close', r));
    s.send(encodeFrame([body]));
    await s.close().catch(() => {});
    await closed;
    return bytes;
  };
  t.ok((await ask(new Uint8Array(0))) > 0, 'an empty request is answered');
  t.equal(await ask(Uint8Array.of(1)), 0, 'a request with a body is not');
  t.ok(
    c.loggers[0]!.events.some((e) => e.event === 'bad-status-request'),
    'and is logged',
  );
});
