import { decodeMessage, messageLimits, verifyMessageSignature } from '@vigil/consensus/pbft';
import {
  type CborValue,
  encodeCanonical,
  merkleLeafHash,
  merkleRoot,
  referenceVerifier,
} from '@vigil/consensus/wire';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import {
  compactPrePrepare,
  decodeCompactPrePrepare,
  decodeTxFetchRequest,
  decodeTxFetchResponse,
  encodeTxFetchRequest,
  encodeTxFetchResponse,
  idKey,
  leafId,
  leafKey,
  rebuildPrePrepare,
  rootOfLeafHashes,
  TxFetchKind,
  type TxFetchRequest,
  TxFetchStatus,
} from './compact-codec.ts';
import { CHAIN, commit, craft, fakeTx, fieldsOf, prePrepare, testSigner } from './compact-testkit.ts';
import { CompactError, P2PErrorCode } from './errors.ts';

const runs = Number(process.env.VIGIL_PROPERTY_RUNS ?? 200);

function refusedWith(t: Test, fn: () => unknown, code: string, what: string): void {
  try {
    fn();
    t.fail(`${what}: accepted`);
  } catch (e) {
    t.ok(e instanceof CompactError, `${what}: a CompactError (${String(e)})`);
    t.equal((e as CompactError).code, code, what);
  }
}

t.test(
  'a PRE-PREPARE goes compact and rebuilds byte for byte; the core accepts the rebuilt bytes',
  async (t) => {
    const txs = Array.from({ length: 50 }, (_, i) => fakeTx(i));
    const m = prePrepare(txs, { view: 3, height: 1 });
    const form = compactPrePrepare(m);
    if (form === undefined) throw new Error('no compact form');
    t.ok(form.bytes.length < m.length / 5, `compact ${form.bytes.length} B against ${m.length} B`);
    t.same(
      form.txs.map((x) => Buffer.from(x).toString('hex')),
      txs.map((x) => Buffer.from(x).toString('hex')),
      'the sender keeps the block transactions in order',
    );
    const c = decodeCompactPrePrepare(form.bytes);
    t.same(c.ids, txs.map(leafId));
    const rebuilt = rebuildPrePrepare(c, txs);
    t.ok(Buffer.from(rebuilt).equals(Buffer.from(m)), 'identical bytes');
    const limits = messageLimits({
      validators: [1, 2, 3, 4],
      windowSize: 16,
      maxBlockTxs: 1000,
      maxBlockBytes: 4 << 20,
    });
    const decoded = decodeMessage(rebuilt, limits);
    t.ok(
      verifyMessageSignature(CHAIN, decoded, referenceVerifier, testSigner(0).publicKey),
      'signature verifies',
    );
  },
);

t.test('other messages and blocks without transactions stay whole', async (t) => {
  t.equal(compactPrePrepare(commit()), undefined, 'a COMMIT');
  t.equal(compactPrePrepare(prePrepare([])), undefined, 'an empty block');
  t.equal(compactPrePrepare(new Uint8Array([0x87, 0x01])), undefined, 'truncated');
  const m = prePrepare([fakeTx(1)]);
  const longer = new Uint8Array(m.length + 1);
  longer.set(m);
  t.equal(compactPrePrepare(longer), undefined, 'trailing byte');
});

t.test('property: rebuild(compact(m), known) == m for any subset of known transactions', async () => {
  // Lengths around the CBOR head boundaries (23/24, 255/256) and view/height values of every head size.
  // (Blocks are built and signed with the core's pure-JS hashing: the 64 KiB ones are kept rare.)
  const tx = fc.oneof(
    { arbitrary: fc.uint8Array({ minLength: 0, maxLength: 30 }), weight: 10 },
    { arbitrary: fc.uint8Array({ minLength: 250, maxLength: 260 }), weight: 10 },
    { arbitrary: fc.uint8Array({ minLength: 65_530, maxLength: 65_536 }), weight: 1 },
  );
  const num = fc.oneof(
    fc.nat(30),
    fc.integer({ min: 250, max: 70_000 }),
    fc.integer({ min: 2 ** 32 - 2, max: 2 ** 33 }),
  );
  fc.assert(
    fc.property(
      fc.uniqueArray(tx, { minLength: 1, maxLength: 24, selector: (b) => Buffer.from(b).toString('hex') }),
      num,
      num,
      fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
      (txs, view, h, known) => {
        const height = h + 1;
        const m = prePrepare(txs, { view, height });
        const form = compactPrePrepare(m);
        if (form === undefined) return false;
        const c = decodeCompactPrePrepare(form.bytes);
        // The receiver's side: what it has, under the key the ids name.
        const have = new Map(
          txs.filter((_, i) => known[i]).map((x) => [Buffer.from(leafId(x)).toString('hex'), x]),
        );
        const found: (Uint8Array | undefined)[] = c.ids.map((id) =>
          have.get(Buffer.from(id).toString('hex')),
        );
        const missing = found.flatMap((x, i) => (x === undefined ? [i] : []));
        if (missing.length === 0)
          return Buffer.from(rebuildPrePrepare(c, found as Uint8Array[])).equals(Buffer.from(m));
        // Otherwise it fails cleanly: exactly the unknown positions are asked for, and the sender's
        // answer (checked against the ids) completes the same bytes.
        if (missing.some((i) => known[i])) return false;
        const req: TxFetchRequest = { kind: TxFetchKind.txs, blockHash: c.blockHash, positions: missing };
        const served = decodeTxFetchRequest(encodeTxFetchRequest(req));
        if (served.kind !== TxFetchKind.txs) return false;
        const response = encodeTxFetchResponse({
          status: TxFetchStatus.ok,
          txs: served.positions.map((i) => form.txs[i]!),
        });
        const got = decodeTxFetchResponse(response, req, c.ids, 1 << 24) as Uint8Array[];
        missing.forEach((p, k) => {
          found[p] = got[k];
        });
        return Buffer.from(rebuildPrePrepare(c, found as Uint8Array[])).equals(Buffer.from(m));
      },
    ),
    { numRuns: runs },
  );
});

t.test('hostile compact PRE-PREPAREs are refused with typed codes', async (t) => {
  const txs = Array.from({ length: 5 }, (_, i) => fakeTx(i));
  const form = compactPrePrepare(prePrepare(txs))!;
  const f = fieldsOf(form.bytes);
  const ids = f[6] as Uint8Array[];
  const set = (i: number, v: CborValue) => craft(f.map((x, k) => (k === i ? v : x)));
  const M = P2PErrorCode;
  t.doesNotThrow(() => decodeCompactPrePrepare(craft(f)), 'the untouched fields decode');

  refusedWith(
    t,
    () => decodeCompactPrePrepare(craft([...f, 1])),
    M.compactMalformed,
    'an unknown eighth field',
  );
  refusedWith(t, () => decodeCompactPrePrepare(craft(f.slice(0, 6))), M.compactMalformed, 'a missing field');
  refusedWith(t, () => decodeCompactPrePrepare(craft(7)), M.compactMalformed, 'not an array');
  const nonCanonical = craft(f);
  // view 0 written as a one-byte-argument head (0x18 0x00): the same value, not its shortest form.
  const nc = new Uint8Array(nonCanonical.length + 1);
  nc.set(nonCanonical.subarray(0, 1));
  nc.set([0x18, 0x00], 1);
  nc.set(nonCanonical.subarray(2), 3);
  refusedWith(t, () => decodeCompactPrePrepare(nc), M.compactMalformed, 'a non-canonical head');
  const trailing = new Uint8Array(form.bytes.length + 1);
  trailing.set(form.bytes);
  refusedWith(t, () => decodeCompactPrePrepare(trailing), M.compactMalformed, 'a trailing byte');
  refusedWith(t, () => decodeCompactPrePrepare(set(0, -1)), M.compactMalformed, 'a negative view');
  refusedWith(
    t,
    () => decodeCompactPrePrepare(set(2, new Uint8Array(31))),
    M.compactMalformed,
    'a 31-byte hash',
  );
  refusedWith(
    t,
    () => decodeCompactPrePrepare(set(4, new Uint8Array(63))),
    M.compactMalformed,
    'a short signature',
  );
  refusedWith(
    t,
    () => decodeCompactPrePrepare(set(5, new Uint8Array(2000))),
    M.compactMalformed,
    'an oversize header',
  );
  refusedWith(
    t,
    () => decodeCompactPrePrepare(set(5, Uint8Array.of(1, 2))),
    M.compactMalformed,
    'a garbage header',
  );
  refusedWith(t, () => decodeCompactPrePrepare(set(6, 'ids')), M.compactMalformed, 'ids not an array');
  refusedWith(t, () => decodeCompactPrePrepare(set(6, [])), M.compactMalformed, 'no ids');
  refusedWith(
    t,
    () => decodeCompactPrePrepare(set(6, [...ids.slice(0, 4), new Uint8Array(31)])),
    M.compactMalformed,
    'a 31-byte id',
  );
  refusedWith(
    t,
    () => decodeCompactPrePrepare(form.bytes, { maxTxs: 4 }),
    M.compactTooManyIds,
    'more ids than the limit',
  );
  refusedWith(
    t,
    () =>
      decodeCompactPrePrepare(
        set(
          6,
          Array.from({ length: 10_001 }, () => ids[0]!),
        ),
      ),
    M.compactTooManyIds,
    'more ids than a block may hold',
  );
  refusedWith(
    t,
    () => decodeCompactPrePrepare(set(2, new Uint8Array(32).fill(1))),
    M.compactHeaderMismatch,
    'a block hash the header does not hash to',
  );
  refusedWith(
    t,
    () => decodeCompactPrePrepare(set(6, ids.slice(0, 4))),
    M.compactIdsMismatch,
    'one id short',
  );
  refusedWith(
    t,
    () => decodeCompactPrePrepare(set(6, [ids[1]!, ids[0]!, ...ids.slice(2)])),
    M.compactIdsMismatch,
    'two ids swapped (the root differs)',
  );
  refusedWith(
    t,
    () => decodeCompactPrePrepare(set(6, [leafId(fakeTx(99)), ...ids.slice(1)])),
    M.compactIdsMismatch,
    'an id of another transaction',
  );
  t.same(rootOfLeafHashes(ids), rootOfLeafHashes(txs.map(leafId)));
});

t.test('txfetch requests: positions strictly increasing, in bounds, nothing else', async (t) => {
  const hash = new Uint8Array(32).fill(5);
  const M = P2PErrorCode;
  const req = (v: CborValue) => () => decodeTxFetchRequest(encodeCanonical(v), { maxTxs: 8 });
  t.same(decodeTxFetchRequest(encodeTxFetchRequest({ kind: 0, blockHash: hash, positions: [0, 3, 7] })), {
    kind: 0,
    blockHash: hash,
    positions: [0, 3, 7],
  });
  t.same(decodeTxFetchRequest(encodeTxFetchRequest({ kind: 1, blockHash: hash })), {
    kind: 1,
    blockHash: hash,
  });
  refusedWith(t, req([0, hash, [1, 1]]), M.txFetchBadPositions, 'a duplicate position');
  refusedWith(t, req([0, hash, [3, 1]]), M.txFetchBadPositions, 'unsorted positions');
  refusedWith(t, req([0, hash, []]), M.txFetchBadPositions, 'no positions');
  refusedWith(
    t,
    req([0, hash, [0, 1, 2, 3, 4, 5, 6, 7, 8]]),
    M.txFetchBadPositions,
    'more positions than the limit',
  );
  refusedWith(t, req([1, hash, [0]]), M.txFetchBadPositions, 'positions with a whole-message request');
  refusedWith(t, req([0, hash, [-1]]), M.compactMalformed, 'a negative position');
  refusedWith(t, req([0, hash, ['1']]), M.compactMalformed, 'a text position');
  refusedWith(t, req([2, hash, []]), M.compactMalformed, 'an unknown kind');
  refusedWith(t, req([0, hash, [1], 0]), M.compactMalformed, 'an unknown fourth field');
  refusedWith(t, req([0, hash.subarray(1), [1]]), M.compactMalformed, 'a short block hash');
  refusedWith(t, () => decodeTxFetchRequest(Uint8Array.of(0xff)), M.compactMalformed, 'not CBOR');
  refusedWith(
    t,
    () => decodeTxFetchRequest(new Uint8Array(100_000)),
    M.compactMalformed,
    'longer than any request can be',
  );
});

t.test('txfetch responses are checked against the ids the signed header commits to', async (t) => {
  const txs = Array.from({ length: 4 }, (_, i) => fakeTx(i));
  const m = prePrepare(txs);
  const c = decodeCompactPrePrepare(compactPrePrepare(m)!.bytes);
  const req: TxFetchRequest = { kind: TxFetchKind.txs, blockHash: c.blockHash, positions: [1, 3] };
  const whole: TxFetchRequest = { kind: TxFetchKind.message, blockHash: c.blockHash };
  const M = P2PErrorCode;
  const dec =
    (v: CborValue, r: TxFetchRequest = req) =>
    () =>
      decodeTxFetchResponse(encodeCanonical(v), r, c.ids, 1 << 20);
  t.same(dec([0, [txs[1]!, txs[3]!]])(), [txs[1], txs[3]]);
  t.same(dec([0, m], whole)(), m);
  refusedWith(t, dec([0, [txs[3]!, txs[1]!]]), M.txFetchWrongTx, 'transactions in the wrong order');
  refusedWith(t, dec([0, [txs[1]!, fakeTx(9)]]), M.txFetchWrongTx, 'another transaction');
  refusedWith(t, dec([0, [txs[1]!]]), M.txFetchBadResponse, 'one transaction short');
  refusedWith(t, dec([0, [txs[1]!, txs[3]!, txs[0]!]]), M.txFetchBadResponse, 'one transaction too many');
  refusedWith(
    t,
    dec([0, [txs[1]!, new Uint8Array(70_000)]]),
    M.txFetchBadResponse,
    'an oversize transaction',
  );
  refusedWith(t, dec([0, m]), M.txFetchBadResponse, 'a message where transactions were asked');
  refusedWith(
    t,
    dec([0, [txs[1]!]], whole),
    M.txFetchBadResponse,
    'transactions where the message was asked',
  );
  refusedWith(
    t,
    dec([0, prePrepare(txs.slice(1))], whole),
    M.txFetchBadResponse,
    "another block's PRE-PREPARE",
  );
  refusedWith(t, dec([0, commit()], whole), M.txFetchBadResponse, 'not a PRE-PREPARE');
  refusedWith(t, dec([2, null]), M.txFetchBadResponse, 'bad-request status');
  refusedWith(t, dec([0, [txs[1]!, txs[3]!], 0]), M.txFetchBadResponse, 'an unknown third field');
  refusedWith(t, dec([1, null]), M.txFetchUnknownBlock, 'unknown block');
  refusedWith(
    t,
    () => decodeTxFetchResponse(encodeTxFetchResponse({ status: 0, txs }), req, c.ids, 100),
    M.txFetchBadResponse,
    'longer than allowed',
  );
});

t.test('ids and keys are the RFC 6962 leaf hash of §8, for any transaction size', async (t) => {
  fc.assert(
    fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ minLength: 65_530, maxLength: 65_600 })),
      (tx) => {
        const want = merkleLeafHash(tx);
        return (
          Buffer.from(leafId(tx)).equals(Buffer.from(want)) &&
          Buffer.from(leafKey(tx), 'latin1').equals(Buffer.from(want)) &&
          idKey(want) === leafKey(tx)
        );
      },
    ),
    { numRuns: 200 },
  );
  const ids = [fakeTx(1), fakeTx(2), fakeTx(3)].map(leafId);
  t.same(rootOfLeafHashes(ids), merkleRoot([fakeTx(1), fakeTx(2), fakeTx(3)]));
});
