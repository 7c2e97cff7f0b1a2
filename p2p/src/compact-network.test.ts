// Compact PRE-PREPAREs between real VigilNetworks on loopback (ADR 0129): a peer of the 1.0.0 version
// gets them whole, a compact peer rebuilds the signed bytes from what it gossiped and fetches the rest,
// and hostile peers on the compact stream and on txfetch are refused, counted and scored.
import type { Libp2p, Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { encodeCanonical } from '@vigil/consensus/wire';
import t from 'tap';
import {
  compactPrePrepare,
  decodeTxFetchRequest,
  encodeTxFetchResponse,
  TxFetchKind,
  TxFetchStatus,
} from './compact-codec.ts';
import { commit, fakeTx, fieldsOf, prePrepare } from './compact-testkit.ts';
import { P2PErrorCode } from './errors.ts';
import { encodeFrame } from './frame.ts';
import type { VigilNetwork } from './network.ts';
import { Protocol } from './protocols.ts';
import { readOneFrame } from './read-frame.ts';
import { publicKeyOf, rawPeer, startCluster, waitFor } from './test-network.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function collect(node: VigilNetwork): { from: string; hex: string }[] {
  const got: { from: string; hex: string }[] = [];
  node.onConsensus((from, m) => got.push({ from, hex: hex(m) }));
  return got;
}

t.test('compact to peers that support it, whole to a 1.0.0 peer; missing transactions fetched', async (t) => {
  const c = await startCluster({
    n: 3,
    // Node 2 is of the protocol's 1.0.0 version: it neither offers nor understands compact messages.
    configure: (i, cfg) => (i === 2 ? { ...cfg, limits: { ...cfg.limits, compact: false } } : cfg),
  });
  t.teardown(c.stop);
  const [a, b, old] = c.nodes as [VigilNetwork, VigilNetwork, VigilNetwork];
  const atB = collect(b);
  const atOld = collect(old);
  const atA = collect(a);
  const gossipAtA: number[] = [];
  a.onTransactions((_f, txs) => gossipAtA.push(txs.length));

  // B gossiped 5 of the block's 10 transactions (so it holds them); A proposes all 10.
  const txs = Array.from({ length: 10 }, (_, i) => fakeTx(i));
  b.gossipTransactions(txs.slice(0, 5));
  await waitFor('A has B’s gossip', () => gossipAtA.reduce((x, y) => x + y, 0) === 5);
  const m = prePrepare(txs, { height: 1 });
  a.broadcastConsensus(m);
  await waitFor('B and the old node have the PRE-PREPARE', () => atB.length === 1 && atOld.length === 1);
  t.same(atB[0], { from: a.key, hex: hex(m) }, 'B rebuilt the exact signed bytes, from A');
  t.same(atOld[0], { from: a.key, hex: hex(m) }, 'the 1.0.0 node got it whole');
  const ma = a.metrics();
  t.match(ma.consensusOut.prePrepareCompact, { messages: 1 });
  t.match(ma.consensusOut.prePrepare, { messages: 1 }, 'one whole copy: to the old node');
  t.match(ma.compact, { sent: 1, sentFull: 1, served: 1 });
  t.ok(
    ma.consensusOut.prePrepareCompact.bytes < ma.consensusOut.prePrepare.bytes / 3,
    `compact ${ma.consensusOut.prePrepareCompact.bytes} B against ${ma.consensusOut.prePrepare.bytes} B`,
  );
  t.match(b.metrics().compact, { received: 1, rebuilt: 0, fetches: 1, fetchedTxs: 5, rebuiltAfterFetch: 1 });
  t.ok(b.metrics().protocols.txfetch.bytesIn > 0, 'the transactions came over txfetch');
  t.same(b.metrics().compact.refused, {});

  // Every transaction gossiped first: rebuilt at B with no request.
  const more = Array.from({ length: 8 }, (_, i) => fakeTx(100 + i));
  a.gossipTransactions(more);
  const gossipAtB: number[] = [];
  b.onTransactions((_f, x) => gossipAtB.push(x.length));
  await waitFor('B has A’s gossip', () => gossipAtB.reduce((x, y) => x + y, 0) === 8);
  const m2 = prePrepare(more, { height: 2 });
  a.broadcastConsensus(m2);
  await waitFor('delivered', () => atB.length === 2 && atOld.length === 2);
  t.equal(atB[1]!.hex, hex(m2));
  t.match(b.metrics().compact, { received: 2, rebuilt: 1, fetches: 1 });

  // The old node proposes: everyone gets it whole (it never writes compact), and other messages pass.
  const m3 = prePrepare([fakeTx(200)], { height: 3 });
  old.broadcastConsensus(m3);
  old.broadcastConsensus(commit());
  await waitFor('from the old node', () => atA.length === 2 && atB.length === 4);
  t.same(
    atA.map((x) => x.hex),
    [hex(m3), hex(commit())],
  );
  t.equal(old.metrics().consensusOut.prePrepareCompact.messages, 0);
  t.equal(a.metrics().compact.received, 0);
});

async function openCompactStream(raw: Libp2p, to: VigilNetwork): Promise<Stream> {
  return raw.dialProtocol(multiaddr(to.listenAddrs()[0]!), Protocol.consensusCompact);
}

t.test(
  'a hostile peer on the compact stream: refused, counted and scored; honest traffic unharmed',
  async (t) => {
    const c = await startCluster({ n: 2, extraValidators: [await publicKeyOf(2)] });
    t.teardown(c.stop);
    const raw = await rawPeer(2);
    t.teardown(() => raw.stop());
    const [victim, honest] = c.nodes as [VigilNetwork, VigilNetwork];
    const heard = collect(victim);
    const stream = await openCompactStream(raw, victim);
    const form = compactPrePrepare(prePrepare([fakeTx(1), fakeTx(2)]))!;
    const fields = fieldsOf(form.bytes);
    const badHash = encodeCanonical(fields.map((x, i) => (i === 2 ? new Uint8Array(32) : x)));
    stream.send(
      encodeFrame(
        [Uint8Array.of(0xff), badHash, Uint8Array.of(9, 9), commit()],
        [1, 1, 7, 0], // malformed compact, header mismatch, unknown kind, a PBFT message
      ),
    );
    await waitFor('all three refused', () => {
      const r = victim.metrics().compact.refused;
      return r[P2PErrorCode.compactMalformed] === 2 && r[P2PErrorCode.compactHeaderMismatch] === 1;
    });
    await waitFor('the PBFT message still delivered', () => heard.length === 1);
    t.equal(heard[0]!.hex, hex(commit()), 'kind 0 carries the message unchanged');
    const rawKey = hex(await publicKeyOf(2));
    const score = victim.peers().find((p) => p.key === rawKey)!.score;
    t.ok(score <= -59, `three offences scored (${score})`);
    t.equal(victim.metrics().connections.bans, 0, 'not yet banned');
    honest.sendConsensus(victim.key, commit());
    await waitFor('honest peer still heard', () => heard.length === 2);

    // Three more offences cross the ban threshold (-100): the gate refuses the peer from then on.
    stream.send(encodeFrame([Uint8Array.of(0xff), Uint8Array.of(0xff), Uint8Array.of(0xff)], [1, 1, 1]));
    await waitFor('banned', () => victim.metrics().connections.bans === 1);
    await waitFor('raw peer disconnected', () => raw.getConnections().length === 0);
    honest.sendConsensus(victim.key, commit());
    await waitFor('honest peer still heard after the ban', () => heard.length === 3);
  },
);

t.test(
  'a sender that answers txfetch with the wrong transaction, then garbage: offences, nothing delivered',
  async (t) => {
    const c = await startCluster({ n: 2, extraValidators: [await publicKeyOf(2)] });
    t.teardown(c.stop);
    const raw = await rawPeer(2);
    t.teardown(() => raw.stop());
    const requests: number[] = [];
    await raw.handle(Protocol.txfetch, async (stream) => {
      const [body] = await readOneFrame(
        stream,
        { maxFrameBytes: 1 << 20, maxMessagesPerFrame: 1 },
        AbortSignal.timeout(5_000),
      );
      const req = decodeTxFetchRequest(body!);
      requests.push(req.kind);
      const answer =
        req.kind === TxFetchKind.txs
          ? encodeTxFetchResponse({ status: TxFetchStatus.ok, txs: req.positions.map(() => fakeTx(999)) })
          : Uint8Array.of(0xff);
      stream.send(encodeFrame([answer]));
      await stream.close();
    });
    const [victim] = c.nodes as [VigilNetwork, VigilNetwork];
    const heard = collect(victim);
    const stream = await openCompactStream(raw, victim);
    const m = prePrepare([fakeTx(1), fakeTx(2), fakeTx(3)], { replica: 2 });
    stream.send(encodeFrame([compactPrePrepare(m)!.bytes], [1]));
    await waitFor('given up', () => victim.metrics().compact.abandoned === 1);
    t.same(requests, [TxFetchKind.txs, TxFetchKind.message], 'the transactions, then the whole message');
    t.match(victim.metrics().compact, {
      received: 1,
      fetches: 1,
      fullFetches: 1,
      fullFetched: 0,
      refused: { [P2PErrorCode.txFetchWrongTx]: 1, [P2PErrorCode.txFetchBadResponse]: 1 },
    });
    t.same(heard, [], 'nothing reached the core');
  },
);

t.test('a peer asking txfetch for duplicate or out-of-range positions is refused and scored', async (t) => {
  const c = await startCluster({ n: 2, extraValidators: [await publicKeyOf(2)] });
  t.teardown(c.stop);
  const raw = await rawPeer(2);
  t.teardown(() => raw.stop());
  const [primary] = c.nodes as [VigilNetwork, VigilNetwork];
  const m = prePrepare([fakeTx(1), fakeTx(2)]);
  primary.broadcastConsensus(m); // A proposal is cached once it has a compact form.
  const hash = compactPrePrepare(m)!.blockHash;
  const ask = async (positions: number[]): Promise<number> => {
    const s = await raw.dialProtocol(multiaddr(primary.listenAddrs()[0]!), Protocol.txfetch);
    s.send(encodeFrame([encodeCanonical([0, hash, positions])]));
    const [resp] = await readOneFrame(
      s,
      { maxFrameBytes: 1 << 20, maxMessagesPerFrame: 1 },
      AbortSignal.timeout(5_000),
    );
    return resp![1]!;
  };
  t.equal(await ask([0, 1]), TxFetchStatus.ok);
  t.equal(await ask([1, 1]), TxFetchStatus.badRequest, 'duplicate');
  t.equal(await ask([0, 2]), TxFetchStatus.badRequest, 'beyond the block');
  t.match(primary.metrics().compact, { served: 1, refused: { [P2PErrorCode.txFetchBadPositions]: 2 } });
  const rawKey = hex(await publicKeyOf(2));
  const score = primary.peers().find((p) => p.key === rawKey)!.score;
  t.ok(score <= -39, `two offences scored (${score})`);
});
