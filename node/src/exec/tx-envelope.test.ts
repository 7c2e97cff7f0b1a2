import fc from 'fast-check';
import t from 'tap';
import {
  type CborValue,
  decodeTransaction,
  encodeTransaction,
  signTransaction,
  transactionId,
  transactionSigningBytes,
  TxType,
} from '@vigil/consensus/wire';
import { nodeCryptoSigner } from './testing.ts';
import { decodeTx, signingBytesOf } from './tx-envelope.ts';

const body: fc.Arbitrary<CborValue[]> = fc.array(
  fc.oneof(
    fc.string(),
    fc.nat(),
    fc.integer({ min: -1_000_000, max: 0 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.oneof(fc.nat(), fc.string()), { maxLength: 4 }),
  ),
  { maxLength: 6 },
);

t.test('signing bytes sliced from the encoding equal the re-encoded signing bytes', async (t) => {
  const signer = nodeCryptoSigner(new Uint8Array(32).fill(3));
  fc.assert(
    fc.property(
      fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/),
      fc.constantFrom(...Object.values(TxType)),
      fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      body,
      (chainId, type, nonce, timestamp, b) => {
        const tx = signTransaction(
          { version: 1, chainId, type, sender: signer.publicKey, nonce, timestamp, body: b },
          signer,
        );
        const bytes = encodeTransaction(tx);
        const decoded = decodeTx(bytes, chainId);
        const expected = transactionSigningBytes(tx);
        return (
          Buffer.from(decoded.signingBytes).equals(expected) &&
          Buffer.from(decoded.txId).equals(transactionId(tx)) &&
          Buffer.from(signingBytesOf(decodeTransaction(bytes), bytes)).equals(expected)
        );
      },
    ),
    { numRuns: 500 },
  );
  t.pass('equal on every generated transaction');
});

t.test('bytes without the expected frame fall back to re-encoding', async (t) => {
  const signer = nodeCryptoSigner(new Uint8Array(32).fill(4));
  const tx = signTransaction(
    {
      version: 1,
      chainId: 'c',
      type: TxType.submitReadings,
      sender: signer.publicKey,
      nonce: 1,
      timestamp: 5,
      body: ['x'],
    },
    signer,
  );
  // A caller handing in bytes that are not this transaction's frame still gets the right answer.
  t.same(signingBytesOf(tx, Uint8Array.of(1, 2, 3)), transactionSigningBytes(tx));
  t.throws(() => decodeTx(Uint8Array.of(0x80), 'c'), { name: 'WireError' });
  t.throws(() => decodeTx(encodeTransaction(tx), 'other'), { code: 'WRONG_CHAIN' });
});
