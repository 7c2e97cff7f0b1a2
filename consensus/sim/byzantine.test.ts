import t from 'tap';
import {
  createMessage,
  decodeMessage,
  MessageType,
  messageLimits,
  type NewView,
  type Prepare,
  type PrePrepare,
  type ViewChange,
  verifyMessageSignature,
} from '../src/pbft/messages.ts';
import type { ReplicaConfig } from '../src/pbft/types.ts';
import { blockHash, encodeBlock, makeBlock, ZERO_HASH } from '../src/wire/index.ts';
import { createAdversary, peekMessageType } from './byzantine.ts';
import { FakeKeyRegistry, hex } from './crypto.ts';
import { Prng } from './prng.ts';

const chainId = 'vigil-sim';
const n = 4;
const reg = new FakeKeyRegistry();
const signers = Array.from({ length: n }, (_, i) => reg.signer(`validator/${i}`));
const config: ReplicaConfig = {
  chainId,
  validators: signers.map((s) => s.publicKey),
  self: 0,
  checkpointInterval: 4,
  windowSize: 16,
  maxBlockTxs: 8,
  maxBlockBytes: 16_384,
  viewChangeTimeoutMs: 300,
  maxClockSkewMs: 2_000,
};
const limits = messageLimits(config);
const ctx = (self: number, seed = 1) => ({
  self,
  n,
  chainId,
  signer: signers[self]!,
  prng: new Prng(seed),
  config: { ...config, self },
});
const decode = (raw: Uint8Array) => decodeMessage(raw, limits);
const validFrom = (raw: Uint8Array, who: number) =>
  verifyMessageSignature(chainId, decode(raw), reg, signers[who]!.publicKey);

function prePrepare(view: number, height: number, txs: Uint8Array[], by = 0) {
  const block = makeBlock(
    {
      version: 1,
      chainId,
      height,
      view,
      prevHash: ZERO_HASH,
      stateRoot: ZERO_HASH,
      stateHeight: 0,
      proposer: by,
      timestamp: 10,
    },
    txs,
  );
  return createMessage<PrePrepare>(chainId, signers[by]!, {
    type: MessageType.prePrepare,
    view,
    height,
    blockHash: blockHash(block.header),
    replica: by,
    block,
    blockBytes: encodeBlock(block),
  });
}

function prepare(view: number, height: number, hash: Uint8Array, by: number) {
  return createMessage<Prepare>(chainId, signers[by]!, {
    type: MessageType.prepare,
    view,
    height,
    blockHash: hash,
    replica: by,
  });
}

t.test('peekMessageType reads the type without decoding', async (t) => {
  t.equal(peekMessageType(prePrepare(0, 1, []).bytes), MessageType.prePrepare);
  t.equal(peekMessageType(prepare(0, 1, ZERO_HASH, 1).bytes), MessageType.prepare);
  t.equal(peekMessageType(new Uint8Array([0xa0])), -1);
});

t.test('bad-signatures: same message, signature no longer verifies', async (t) => {
  const adv = createAdversary('bad-signatures', ctx(1));
  const p = prepare(0, 1, new Uint8Array(32).fill(3), 1);
  const [out] = adv.outbound([{ to: 'all', message: p.bytes }], 0, 0);
  t.ok(validFrom(p.bytes, 1));
  t.notOk(validFrom(out!.message, 1));
  t.match(decode(out!.message), { type: MessageType.prepare, view: 0, height: 1, replica: 1 });
});

t.test('equivocate: two validly signed, conflicting PRE-PREPAREs for one (view, height)', async (t) => {
  const adv = createAdversary('equivocate', ctx(0));
  const pp = prePrepare(0, 1, [new Uint8Array([1]), new Uint8Array([2])]);
  const out = adv.outbound([{ to: 'all', message: pp.bytes }], 0, 0);
  t.same(out.map((o) => o.to).sort(), [1, 2, 3], 'one copy per backup');
  const hashes = new Set(out.map((o) => hex((decode(o.message) as PrePrepare).blockHash)));
  t.equal(hashes.size, 2, 'two different blocks');
  for (const o of out) {
    t.ok(validFrom(o.message, 0), 'signed with its own key');
    t.match(decode(o.message), { view: 0, height: 1 });
  }
  // Its COMMIT follows each half's block.
  const commit = createMessage(chainId, signers[0]!, {
    type: MessageType.commit,
    view: 0,
    height: 1,
    blockHash: pp.message.blockHash,
    replica: 0,
  });
  const commits = adv.outbound([{ to: 'all', message: commit.bytes }], 0, 0);
  const byTarget = new Map(out.map((o) => [o.to, hex((decode(o.message) as PrePrepare).blockHash)]));
  for (const c of commits) t.equal(hex((decode(c.message) as Prepare).blockHash), byTarget.get(c.to));
});

t.test('forge-view-change: a re-signed VIEW-CHANGE with a certificate nobody signed', async (t) => {
  const adv = createAdversary('forge-view-change', ctx(1, 3));
  const vc = createMessage<ViewChange>(chainId, signers[1]!, {
    type: MessageType.viewChange,
    newView: 1,
    checkpointProof: [],
    prepared: [],
    replica: 1,
  });
  let forged: ViewChange | undefined;
  for (let i = 0; i < 20 && forged === undefined; i++) {
    const [out] = adv.outbound([{ to: 'all', message: vc.bytes }], 1, 0);
    const m = decode(out!.message) as ViewChange;
    if (m.prepared.length > 0) forged = m;
  }
  t.ok(forged, 'a forged certificate was added');
  const cert = forged!.prepared[0]!;
  const pp = decode(cert.prePrepare) as PrePrepare;
  t.equal(pp.replica, 0, 'claims to come from the primary of view 0');
  t.notOk(validFrom(cert.prePrepare, 0), "but it is not the primary's signature");
  for (const raw of cert.prepares) {
    const p = decode(raw) as Prepare;
    if (p.replica !== 1) t.notOk(validFrom(raw, p.replica), `PREPARE "from" ${p.replica} is forged`);
  }
  t.ok(
    verifyMessageSignature(chainId, forged!, reg, signers[1]!.publicKey),
    'the VIEW-CHANGE itself is validly signed',
  );
});

t.test('forge-view-change: stale certificates come from genuine older traffic', async (t) => {
  const adv = createAdversary('forge-view-change', ctx(3, 5));
  const old = prePrepare(0, 1, [new Uint8Array([9])]);
  adv.observe(0, old.bytes);
  adv.observe(1, prepare(0, 1, old.message.blockHash, 1).bytes);
  adv.observe(2, prepare(0, 1, old.message.blockHash, 2).bytes);
  const vc = createMessage<ViewChange>(chainId, signers[3]!, {
    type: MessageType.viewChange,
    newView: 2,
    checkpointProof: [],
    prepared: [],
    replica: 3,
  });
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const m = decode(adv.outbound([{ to: 'all', message: vc.bytes }], 2, 0)[0]!.message) as ViewChange;
    for (const p of m.prepared) seen.add(hex(p.prePrepare) === hex(old.bytes) ? 'stale' : 'forged');
  }
  t.ok(seen.has('stale'), 'the genuine view-0 certificate was claimed in a view-2 VIEW-CHANGE');
});

/** A view-1 NEW-VIEW of replica 1 whose O is one PRE-PREPARE of a block with one transaction. */
function newViewWithOneBlock() {
  const pp = prePrepare(1, 1, [new Uint8Array([1])], 1);
  const nv = createMessage<NewView>(chainId, signers[1]!, {
    type: MessageType.newView,
    view: 1,
    viewChanges: [],
    prePrepares: [pp.bytes],
    replica: 1,
  });
  return { pp, nv };
}

t.test('new-view-omits-prepared: O keeps its heights but loses every transaction', async (t) => {
  const adv = createAdversary('new-view-omits-prepared', ctx(1));
  const { pp, nv } = newViewWithOneBlock();
  const [out] = adv.outbound([{ to: 'all', message: nv.bytes }], 1, 0);
  const m = decode(out!.message) as NewView;
  t.ok(validFrom(out!.message, 1));
  t.equal(m.prePrepares.length, 1);
  const rewritten = decode(m.prePrepares[0]!) as PrePrepare;
  t.equal(rewritten.height, 1);
  t.equal(rewritten.block.txs.length, 0);
  t.not(hex(rewritten.blockHash), hex(pp.message.blockHash));
});

t.test('replay: passes the genuine messages and adds old ones', async (t) => {
  const adv = createAdversary('replay', ctx(2));
  const old = prepare(0, 1, ZERO_HASH, 1).bytes;
  adv.observe(1, old);
  let replayed = 0;
  for (let i = 0; i < 20; i++) {
    const fresh = prepare(0, 2 + i, ZERO_HASH, 2).bytes;
    const out = adv.outbound([{ to: 'all', message: fresh }], 0, i * 10);
    t.equal(out[0]!.message, fresh, 'the genuine message goes first');
    replayed += out.length - 1;
  }
  t.ok(replayed > 0, `replayed ${replayed} old messages`);
  t.same(adv.outbound([], 0, 1_000), [], 'nothing to piggyback on: no replay');
  let burst = 0;
  for (let i = 0; i < 20; i++) burst += adv.outbound([{ to: 1, message: old }], 0, 2_000).length - 1;
  t.ok(burst <= 3, `at most one replay burst per interval (${burst})`);
});

t.test('silent sends nothing; twins are not a transform', async (t) => {
  const adv = createAdversary('silent', ctx(0));
  t.ok(adv.silent);
  t.same(adv.outbound([{ to: 'all', message: prepare(0, 1, ZERO_HASH, 0).bytes }], 0, 0), []);
  t.throws(() => createAdversary('twins', ctx(0)), RangeError);
});

t.test(
  'new-view-swaps-blocks: O keeps the signed hashes and signatures but carries empty blocks',
  async (t) => {
    const adv = createAdversary('new-view-swaps-blocks', ctx(1));
    const { pp, nv } = newViewWithOneBlock();
    const [out] = adv.outbound([{ to: 'all', message: nv.bytes }], 1, 0);
    t.ok(validFrom(out!.message, 1), 'the NEW-VIEW is re-signed by the adversary');
    const m = decode(out!.message) as NewView;
    const swapped = decode(m.prePrepares[0]!) as PrePrepare;
    t.ok(validFrom(m.prePrepares[0]!, 1), "the PRE-PREPARE's genuine signature still verifies");
    t.equal(hex(swapped.blockHash), hex(pp.message.blockHash), 'it names the prepared block');
    t.equal(swapped.block.txs.length, 0, 'but carries an empty block');
    t.equal(swapped.block.header.height, 1);
    // Nothing to swap: passed through unchanged.
    const empty = prePrepare(1, 2, [], 1);
    const plain = createMessage<NewView>(chainId, signers[1]!, { ...nv.message, prePrepares: [empty.bytes] });
    t.equal(adv.outbound([{ to: 'all', message: plain.bytes }], 1, 0)[0]!.message, plain.bytes);
  },
);
