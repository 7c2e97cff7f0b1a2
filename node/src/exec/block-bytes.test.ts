import fc from 'fast-check';
import t from 'tap';
import { decodeBlock, encodeBlock, makeBlock, MAX_TX_BYTES } from '@vigil/consensus/wire';
import {
  checkedTxRoot,
  encodeCheckedBlock,
  rememberBlockEncoding,
  rememberTxRootChecked,
  storedBlockBytes,
} from './block-bytes.ts';
import { txRoot } from '../crypto/tx-root.ts';

const header = {
  version: 1 as const,
  chainId: 'vigil-test',
  height: 7,
  view: 2,
  prevHash: new Uint8Array(32).fill(1),
  stateRoot: new Uint8Array(32).fill(2),
  stateHeight: 5,
  proposer: 1,
  timestamp: 1_700_000_000_000,
};

t.test('the direct block encoder writes exactly encodeBlock', async (t) => {
  fc.assert(
    fc.property(
      // Lengths around the CBOR head boundaries (23/24, 255/256) and empty blocks.
      fc.array(
        fc.oneof(fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ minLength: 250, maxLength: 300 })),
        {
          maxLength: 40,
        },
      ),
      // From 2: height 1 must have the zero prevHash, and the fixture header has another.
      fc.integer({ min: 2, max: 2 ** 40 }),
      (txs, height) => {
        const block = makeBlock({ ...header, height, stateHeight: height - 1 }, txs);
        return Buffer.from(encodeCheckedBlock(block)).equals(encodeBlock(block));
      },
    ),
    { numRuns: 300 },
  );
  // More than 23 and more than 255 transactions (array heads of 2 and 3 bytes).
  for (const n of [24, 256, 1000]) {
    const block = makeBlock(
      header,
      Array.from({ length: n }, (_, i) => Uint8Array.of(i & 0xff, 1, 2)),
    );
    t.same(encodeCheckedBlock(block), encodeBlock(block), `${n} transactions`);
  }
});

t.test('the same limits as encodeBlock', async (t) => {
  const big = makeBlock(header, [new Uint8Array(MAX_TX_BYTES + 1)]);
  t.throws(() => encodeCheckedBlock(big), { code: 'TOO_LARGE' });
  const many = makeBlock(
    header,
    Array.from({ length: 70 }, () => new Uint8Array(MAX_TX_BYTES)),
  );
  t.throws(() => encodeCheckedBlock(many), { code: 'TOO_LARGE' });
  t.throws(() => encodeCheckedBlock({ ...big, header: { ...big.header, chainId: 'bad chain' } }));
});

t.test('a block decoded from its canonical bytes is stored as those bytes, others are encoded', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 30 }), (txs) => {
      const bytes = encodeBlock(makeBlock(header, txs));
      const decoded = decodeBlock(bytes);
      const fresh = storedBlockBytes(decoded);
      rememberBlockEncoding(decoded, bytes);
      return Buffer.from(fresh).equals(bytes) && storedBlockBytes(decoded) === bytes;
    }),
    { numRuns: 200 },
  );
  const other = makeBlock(header, [Uint8Array.of(1)]);
  t.same(storedBlockBytes(other), encodeBlock(other), 'a block nobody decoded is encoded');
});

t.test('checkedTxRoot takes the header root only for a block whose decoding checked it', (t) => {
  const txs = [Uint8Array.of(1, 2, 3), Uint8Array.of(4)];
  const block = makeBlock(
    {
      version: 1,
      chainId: 'c',
      height: 1,
      view: 0,
      prevHash: new Uint8Array(32),
      stateRoot: new Uint8Array(32),
      stateHeight: 0,
      proposer: 0,
      timestamp: 1,
    },
    txs,
  );
  // A header that lies about its transactions: computed, so the executor's comparison catches it.
  const lying = { ...block, header: { ...block.header, txRoot: new Uint8Array(32).fill(9) } };
  t.same(checkedTxRoot(lying), txRoot(txs), 'not remembered: computed from the transactions');
  rememberTxRootChecked(block);
  t.equal(checkedTxRoot(block), block.header.txRoot, 'remembered: the header root, not hashed again');
  t.end();
});
