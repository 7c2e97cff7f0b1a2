import fc from 'fast-check';
import t from 'tap';
import {
  type Block,
  blockHash,
  decodeBlock,
  decodeBlockHeader,
  encodeBlock,
  encodeBlockHeader,
  makeBlock,
  ZERO_HASH,
} from './block.ts';
import { type CborValue, decodeCanonical, encodeCanonical } from './cbor.ts';
import {
  type CommitCertificate,
  commitVoteSignBytes,
  decodeCommitCertificate,
  encodeCommitCertificate,
  quorumSize,
  verifyCommitCertificate,
} from './certificate.ts';
import { referenceVerifier, type Signer, signerFromSeed, type Verifier } from './ed25519.ts';
import { WireError } from './errors.ts';
import { bytesEqual, sha256, toHex } from './hash.ts';
import { merkleRoot } from './merkle.ts';
import { MAX_TX_BYTES } from './limits.ts';
import { SigningDomain, signingPayload } from './signing.ts';
import { arbCborValue, expectWireError, propertyRuns } from './test-support.ts';
import {
  decodeTransaction,
  encodeTransaction,
  signTransaction,
  type Transaction,
  transactionId,
  transactionSigningBytes,
  type UnsignedTransaction,
  verifyTransactionSignature,
} from './transaction.ts';
import { TxType } from './tx-types.ts';

const CHAIN = 'vigil-test';
const device = signerFromSeed(new Uint8Array(32).fill(1));

function unsigned(over: Partial<UnsignedTransaction> = {}): UnsignedTransaction {
  return {
    version: 1,
    chainId: CHAIN,
    type: TxType.submitReadings,
    sender: device.publicKey,
    nonce: 7,
    timestamp: 1_700_000_000_000,
    body: [new Uint8Array(16).fill(0xaa), [[1, 72, 'bpm', 1_700_000_000_000]]],
    ...over,
  };
}

/** Re-encode a transaction's array with one field replaced (bypassing encodeTransaction's checks). */
function withField(tx: Transaction, index: number, value: CborValue | 'drop'): Uint8Array {
  const arr = decodeCanonical(encodeTransaction(tx)) as CborValue[];
  if (value === 'drop') arr.splice(index, 1);
  else arr[index] = value;
  return encodeCanonical(arr);
}

t.test('signingPayload layout: domain, 0x00, chain id length, chain id, payload', async (t) => {
  const p = signingPayload('vigil/tx/v1', 'ab', Uint8Array.of(9, 8));
  t.equal(
    toHex(p),
    toHex(new Uint8Array([...new TextEncoder().encode('vigil/tx/v1'), 0, 2, 0x61, 0x62, 9, 8])),
  );
  t.not(
    toHex(signingPayload('vigil/tx/v1', 'ab', Uint8Array.of())),
    toHex(signingPayload('vigil/pbft/v1', 'ab', Uint8Array.of())),
  );
  expectWireError(t, () => signingPayload('a\0b', 'ab', Uint8Array.of()), 'WRONG_TYPE', 'NUL in domain');
  expectWireError(t, () => signingPayload('', 'ab', Uint8Array.of()), 'WRONG_TYPE', 'empty domain');
  for (const bad of ['', 'x'.repeat(65), 'has space', 'é', 'a/b']) {
    expectWireError(
      t,
      () => signingPayload(SigningDomain.tx, bad, Uint8Array.of()),
      'WRONG_TYPE',
      `chain id ${JSON.stringify(bad)}`,
    );
  }
  t.ok(signingPayload(SigningDomain.tx, 'x'.repeat(64), Uint8Array.of()), '64-character chain id');
});

t.test('transaction round trip, id and signature', async (t) => {
  const tx = signTransaction(unsigned(), device);
  const bytes = encodeTransaction(tx);
  const back = decodeTransaction(bytes, { chainId: CHAIN });
  t.same(back, { ...tx, sender: Uint8Array.from(tx.sender) });
  t.ok(verifyTransactionSignature(back, referenceVerifier), 'signature verifies');
  t.equal(transactionId(tx).length, 32);
  t.equal(
    toHex(transactionId(tx)),
    toHex(sha256(transactionSigningBytes(tx))),
    'id = SHA-256(signing bytes)',
  );
  t.equal(toHex(transactionId(unsigned())), toHex(transactionId(tx)), 'id is known before signing');
  const other = signTransaction(unsigned(), {
    publicKey: device.publicKey,
    sign: () => new Uint8Array(64).fill(3),
  });
  t.equal(toHex(transactionId(other)), toHex(transactionId(tx)), 'id does not depend on the signature');
  t.notOk(verifyTransactionSignature(other, referenceVerifier), 'a junk signature does not verify');
  t.not(toHex(transactionId(unsigned({ nonce: 8 }))), toHex(transactionId(tx)), 'id covers the nonce');
  t.not(
    toHex(transactionId(unsigned({ chainId: 'vigil-other' }))),
    toHex(transactionId(tx)),
    'id covers the chain id',
  );
  const tampered = { ...back, timestamp: back.timestamp + 1 };
  t.notOk(verifyTransactionSignature(tampered, referenceVerifier), 'signature covers the timestamp');
  const wrongKey = { ...back, sender: signerFromSeed(new Uint8Array(32).fill(2)).publicKey };
  t.notOk(verifyTransactionSignature(wrongKey, referenceVerifier), 'signature bound to the sender');
  t.notOk(
    verifyTransactionSignature({ ...back, sender: new Uint8Array(3) }, referenceVerifier),
    'malformed sender',
  );
});

t.test('transaction decoder: every field has its precise error', async (t) => {
  const tx = signTransaction(unsigned(), device);
  const cases: [Uint8Array, string, string][] = [
    [withField(tx, 0, 2), 'UNSUPPORTED_VERSION', 'version 2'],
    [withField(tx, 0, 'v1'), 'UNSUPPORTED_VERSION', 'version as text'],
    [withField(tx, 7, 'drop'), 'WRONG_TYPE', '7 fields'],
    [
      encodeCanonical([...(decodeCanonical(encodeTransaction(tx)) as CborValue[]), 0]),
      'WRONG_TYPE',
      '9 fields',
    ],
    [withField(tx, 1, 'bad chain'), 'WRONG_TYPE', 'chain id charset'],
    [withField(tx, 1, 5), 'WRONG_TYPE', 'chain id type'],
    [withField(tx, 2, 99), 'UNKNOWN_TX_TYPE', 'type 99'],
    [withField(tx, 2, -1), 'WRONG_TYPE', 'negative type'],
    [withField(tx, 3, new Uint8Array(31)), 'WRONG_TYPE', '31-byte sender'],
    [withField(tx, 3, 'key'), 'WRONG_TYPE', 'sender as text'],
    [withField(tx, 4, -1), 'WRONG_TYPE', 'negative nonce'],
    [withField(tx, 4, 2n ** 53n), 'WRONG_TYPE', 'nonce beyond 2^53-1'],
    [withField(tx, 5, true), 'WRONG_TYPE', 'timestamp as bool'],
    [withField(tx, 6, new Uint8Array(1)), 'WRONG_TYPE', 'body not an array'],
    [withField(tx, 7, new Uint8Array(63)), 'WRONG_TYPE', '63-byte signature'],
    [encodeCanonical('not a tx'), 'WRONG_TYPE', 'not an array'],
    [encodeCanonical([]), 'WRONG_TYPE', 'empty array'],
    [new Uint8Array(MAX_TX_BYTES + 1), 'TOO_LARGE', 'oversize'],
  ];
  for (const [bytes, code, what] of cases) expectWireError(t, () => decodeTransaction(bytes), code, what);
  expectWireError(
    t,
    () => decodeTransaction(encodeTransaction(tx), { chainId: 'vigil-prod' }),
    'WRONG_CHAIN',
    'chain',
  );
  expectWireError(
    t,
    () => decodeTransaction(encodeTransaction(tx), { maxBytes: 10 }),
    'TOO_LARGE',
    'caller limit',
  );
  expectWireError(t, () => encodeTransaction({ ...tx, nonce: 1.5 }), 'WRONG_TYPE', 'encoder checks fields');
  expectWireError(
    t,
    () => signTransaction(unsigned({ type: 3 }), device),
    'UNKNOWN_TX_TYPE',
    'signer checks type',
  );
  const big = unsigned({ body: [new Uint8Array(MAX_TX_BYTES)] });
  expectWireError(
    t,
    () => encodeTransaction(signTransaction(big, device)),
    'TOO_LARGE',
    'encoder size limit',
  );
});

function header(over: Partial<Parameters<typeof makeBlock>[0]> = {}, txs: Uint8Array[] = []): Block {
  return makeBlock(
    {
      version: 1,
      chainId: CHAIN,
      height: 1,
      view: 0,
      prevHash: ZERO_HASH,
      stateRoot: sha256(Uint8Array.of(1)),
      stateHeight: 0,
      proposer: 0,
      timestamp: 1_700_000_000_500,
      ...over,
    },
    txs,
  );
}

t.test('block header and block round trip; hash covers every field', async (t) => {
  const txs = [1, 2, 3].map((n) => encodeTransaction(signTransaction(unsigned({ nonce: n }), device)));
  const b = header({}, txs);
  const hb = encodeBlockHeader(b.header);
  t.same(decodeBlockHeader(hb, { chainId: CHAIN }), b.header);
  t.same(decodeBlock(encodeBlock(b), { chainId: CHAIN }), b);
  t.equal(toHex(blockHash(b.header)), toHex(sha256(hb)), 'blockHash = SHA-256(encoded header)');
  const h2 = header({
    height: 2,
    prevHash: blockHash(b.header),
    stateHeight: 1,
    view: 3,
    proposer: 1,
  }).header;
  t.same(decodeBlockHeader(encodeBlockHeader(h2)), h2);
  const variants = [
    { ...h2, height: 3 },
    { ...h2, view: 4 },
    { ...h2, prevHash: sha256(Uint8Array.of(9)) },
    { ...h2, txRoot: sha256(Uint8Array.of(9)) },
    { ...h2, txCount: 1 },
    { ...h2, stateRoot: ZERO_HASH },
    { ...h2, stateHeight: 0 },
    { ...h2, proposer: 2 },
    { ...h2, timestamp: h2.timestamp + 1 },
    { ...h2, chainId: 'vigil-other' },
  ];
  const seen = new Set([toHex(blockHash(h2))]);
  for (const v of variants) seen.add(toHex(blockHash(v)));
  t.equal(seen.size, variants.length + 1, 'every field changes the hash');
});

t.test('block decoder errors', async (t) => {
  const txs = [encodeTransaction(signTransaction(unsigned(), device))];
  const b = header({}, txs);
  const arr = decodeCanonical(encodeBlock(b)) as CborValue[];
  const h = arr[0] as CborValue[];
  const withHeader = (i: number, v: CborValue) => {
    const hh = [...h];
    hh[i] = v;
    return encodeCanonical([hh, arr[1]!]);
  };
  const cases: [Uint8Array, string, string][] = [
    [withHeader(0, 2), 'UNSUPPORTED_VERSION', 'header version'],
    [withHeader(2, 0), 'WRONG_TYPE', 'height 0 is genesis, not a block'],
    [withHeader(4, new Uint8Array(31)), 'WRONG_TYPE', 'short prevHash'],
    [withHeader(4, new Uint8Array(32).fill(1)), 'INCONSISTENT', 'prevHash at height 1 must be zero'],
    [withHeader(8, 1), 'INCONSISTENT', 'stateHeight >= height'],
    [withHeader(6, 2), 'INCONSISTENT', 'txCount disagrees'],
    [withHeader(5, new Uint8Array(32)), 'INCONSISTENT', 'txRoot disagrees'],
    [withHeader(9, 'p'), 'WRONG_TYPE', 'proposer type'],
    [encodeCanonical([h, [...(arr[1] as CborValue[]), new Uint8Array(1)]]), 'INCONSISTENT', 'extra tx'],
    [encodeCanonical([h, [5]]), 'WRONG_TYPE', 'tx not bytes'],
    [encodeCanonical([h]), 'WRONG_TYPE', 'block arity'],
  ];
  for (const [bytes, code, what] of cases) expectWireError(t, () => decodeBlock(bytes), code, what);
  expectWireError(t, () => decodeBlock(encodeBlock(b), { chainId: 'x' }), 'WRONG_CHAIN', 'chain');
  expectWireError(
    t,
    () => decodeBlockHeader(encodeBlockHeader(b.header), { chainId: 'x' }),
    'WRONG_CHAIN',
    'header chain',
  );
  expectWireError(t, () => decodeBlockHeader(new Uint8Array(2000)), 'TOO_LARGE', 'header size');
  expectWireError(t, () => encodeBlock({ ...b, txs: [] }), 'INCONSISTENT', 'encoder checks txCount');
});

const validators: Signer[] = [0, 1, 2, 3].map((i) => signerFromSeed(new Uint8Array(32).fill(0x40 + i)));
const keys = validators.map((v) => v.publicKey);

function certify(h: Block['header'], who: number[], view = h.view): CommitCertificate {
  const hash = blockHash(h);
  return {
    height: h.height,
    view,
    blockHash: hash,
    votes: who.map((i) => ({
      validator: i,
      signature: validators[i]!.sign(
        commitVoteSignBytes(CHAIN, { view, height: h.height, blockHash: hash, validator: i }),
      ),
    })),
  };
}

t.test('decodeBlock checks txRoot with the root function it is given', async (t) => {
  const txs = [1, 2, 3].map((n) => encodeTransaction(signTransaction(unsigned({ nonce: n }), device)));
  const b = header({}, txs);
  const bytes = encodeBlock(b);
  let calls = 0;
  const counting = (list: readonly Uint8Array[]) => {
    calls++;
    return merkleRoot(list);
  };
  t.same(decodeBlock(bytes, { txRoot: counting }), b, 'the same block with an equal root function');
  t.equal(calls, 1, 'the given function computed the root');
  t.throws(
    () => decodeBlock(bytes, { txRoot: () => new Uint8Array(32) }),
    { name: 'WireError', code: 'INCONSISTENT' },
    'a root that differs from the header is refused',
  );
});

t.test('quorum sizes: floor((n+f)/2)+1', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 7, 10].map(quorumSize), [1, 2, 2, 3, 4, 4, 5, 7]);
});

t.test('commit vote sign bytes are the documented construction', async (t) => {
  const hash = sha256(Uint8Array.of(1));
  t.equal(
    toHex(commitVoteSignBytes(CHAIN, { view: 2, height: 9, blockHash: hash, validator: 1 })),
    toHex(signingPayload('vigil/pbft/v1', CHAIN, encodeCanonical([3, 2, 9, hash, 1]))),
  );
  expectWireError(
    t,
    () => commitVoteSignBytes(CHAIN, { view: 0, height: 1, blockHash: hash.subarray(1), validator: 0 }),
    'WRONG_TYPE',
    'hash length',
  );
});

t.test('commit certificates: round trip and every rejection', async (t) => {
  const h = header().header;
  const cert = certify(h, [2, 0, 1]);
  const bytes = encodeCommitCertificate(cert);
  const back = decodeCommitCertificate(bytes);
  t.same(
    back.votes.map((v) => v.validator),
    [0, 1, 2],
    'votes sorted by validator',
  );
  verifyCommitCertificate(CHAIN, back, h, keys, referenceVerifier);
  verifyCommitCertificate(CHAIN, cert, h, keys, referenceVerifier);
  t.pass('a quorum of valid votes verifies, sorted or not');
  verifyCommitCertificate(CHAIN, certify(h, [0, 1, 3], 5), h, keys, referenceVerifier);
  t.pass('a certificate from a later view (re-proposal after a view change) verifies');

  const v = (
    c: CommitCertificate,
    code: string,
    what: string,
    hh = h,
    chain = CHAIN,
    verifier: Verifier = referenceVerifier,
  ) => expectWireError(t, () => verifyCommitCertificate(chain, c, hh, keys, verifier), code, what);
  v(cert, 'WRONG_CHAIN', 'other chain', h, 'vigil-other');
  v(certify(h, [0, 1]), 'CERT_NO_QUORUM', '2 of 4');
  v({ ...cert, height: 2 }, 'CERT_MISMATCH', 'height');
  v(cert, 'CERT_MISMATCH', 'another header', { ...h, timestamp: h.timestamp + 1 });
  v(certify({ ...h, view: 3 }, [0, 1, 2], 2), 'CERT_MISMATCH', 'view before the proposal view', {
    ...h,
    view: 3,
  });
  v(
    { ...cert, votes: [...cert.votes, { validator: 4, signature: new Uint8Array(64) }] },
    'CERT_UNKNOWN_VALIDATOR',
    'index 4 of 4',
  );
  v({ ...cert, votes: [...cert.votes, cert.votes[0]!] }, 'CERT_DUPLICATE_VOTE', 'duplicate');
  const dupOnly = { ...cert, votes: [cert.votes[0]!, cert.votes[0]!, cert.votes[0]!] };
  v(dupOnly, 'CERT_DUPLICATE_VOTE', 'one validator three times is not a quorum');
  const forged = {
    ...cert,
    votes: cert.votes.map((x, i) => (i === 0 ? { ...x, signature: new Uint8Array(64) } : x)),
  };
  v(forged, 'CERT_BAD_SIGNATURE', 'a forged vote');
  const crossView = certify(h, [0, 1, 2], 1);
  v({ ...crossView, view: 2 }, 'CERT_BAD_SIGNATURE', 'votes signed for another view');
  const otherChainVotes: CommitCertificate = {
    ...cert,
    votes: [0, 1, 2].map((i) => ({
      validator: i,
      signature: validators[i]!.sign(
        commitVoteSignBytes('vigil-other', { view: 0, height: 1, blockHash: cert.blockHash, validator: i }),
      ),
    })),
  };
  v(otherChainVotes, 'CERT_BAD_SIGNATURE', 'votes signed for another chain');
  expectWireError(
    t,
    () => encodeCommitCertificate({ ...cert, votes: [...cert.votes, cert.votes[1]!] }),
    'CERT_DUPLICATE_VOTE',
    'encoder',
  );
  const raw = decodeCanonical(bytes) as CborValue[];
  const votes = raw[4] as CborValue[];
  expectWireError(
    t,
    () => decodeCommitCertificate(encodeCanonical([1, 1, 0, raw[3]!, [votes[1]!, votes[0]!, votes[2]!]])),
    'INCONSISTENT',
    'unsorted votes',
  );
  expectWireError(
    t,
    () => decodeCommitCertificate(encodeCanonical([1, 1, 0, raw[3]!, [votes[0]!, votes[0]!]])),
    'CERT_DUPLICATE_VOTE',
    'duplicate on the wire',
  );
  expectWireError(
    t,
    () => decodeCommitCertificate(encodeCanonical([2, 1, 0, raw[3]!, votes])),
    'UNSUPPORTED_VERSION',
    'version',
  );
  expectWireError(
    t,
    () => decodeCommitCertificate(encodeCanonical([1, 1, 0, raw[3]!, [[0, new Uint8Array(63)]]])),
    'WRONG_TYPE',
    'short signature',
  );
});

t.test('property: structure decoders raise only WireError on mutated encodings', async (t) => {
  const tx = encodeTransaction(signTransaction(unsigned(), device));
  const b = header({}, [tx]);
  const samples = [
    { bytes: tx, decode: (x: Uint8Array) => decodeTransaction(x, { chainId: CHAIN }) },
    { bytes: encodeBlockHeader(b.header), decode: (x: Uint8Array) => decodeBlockHeader(x) },
    { bytes: encodeBlock(b), decode: (x: Uint8Array) => decodeBlock(x) },
    {
      bytes: encodeCommitCertificate(certify(b.header, [0, 1, 2])),
      decode: (x: Uint8Array) => decodeCommitCertificate(x),
    },
  ];
  let accepted = 0;
  fc.assert(
    fc.property(
      fc.nat(samples.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('flip', 'set', 'cut', 'insert')), {
        minLength: 1,
        maxLength: 4,
      }),
      (which, muts) => {
        const s = samples[which]!;
        let bytes = Array.from(s.bytes);
        for (const [i, x, op] of muts) {
          const at = bytes.length === 0 ? 0 : i % bytes.length;
          if (op === 'flip' && bytes.length > 0) bytes[at]! ^= 1 << (x % 8);
          else if (op === 'set' && bytes.length > 0) bytes[at] = x;
          else if (op === 'cut') bytes = bytes.slice(0, at);
          else bytes.splice(at, 0, x);
        }
        try {
          s.decode(Uint8Array.from(bytes));
          accepted++;
          return true;
        } catch (e) {
          return e instanceof WireError;
        }
      },
    ),
    { numRuns: propertyRuns(3000) },
  );
  fc.assert(
    fc.property(arbCborValue, (v) => {
      for (const s of samples) {
        try {
          s.decode(encodeCanonical(v));
        } catch (e) {
          if (!(e instanceof WireError)) return false;
        }
      }
      return true;
    }),
    { numRuns: propertyRuns(1000) },
  );
  t.pass(`mutations handled (${accepted} still decoded: mutations inside byte strings)`);
});

const zeroSigner: Signer = { publicKey: device.publicKey, sign: () => new Uint8Array(64) };

t.test(
  'property: any transaction with a valid envelope round-trips and its id ignores the signature',
  async (t) => {
    const types = Object.values(TxType);
    fc.assert(
      fc.property(
        fc.constantFrom(...types),
        fc.maxSafeNat(),
        fc.maxSafeNat(),
        fc.array(arbCborValue, { maxLength: 4 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        (type, nonce, timestamp, body, signature) => {
          const tx: Transaction = { ...unsigned({ type, nonce, timestamp, body }), signature };
          const back = decodeTransaction(encodeTransaction(tx));
          return (
            toHex(encodeTransaction(back)) === toHex(encodeTransaction(tx)) &&
            bytesEqual(transactionId(back), transactionId(signTransaction(tx, zeroSigner)))
          );
        },
      ),
      { numRuns: propertyRuns(500) },
    );
    t.pass('round trip');
  },
);
