// Property: for random blocks of random transactions (random senders and nonces, some replays, some
// forged signatures, some handler rejections), the executor's receipts match a small reference model of
// the framework rules, and the state root depends only on the blocks (two stores agree).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import {
  decodeTransaction,
  encodeTransaction,
  referenceVerifier,
  transactionId,
  transactionSigningBytes,
} from '@vigil/consensus/wire';
import { fastVerifier } from '../crypto/fast-verifier.ts';
import { ChainStore } from '../store/chain-store.ts';
import { inlineBatchVerifier } from '../verify-pool/types.ts';
import { BlockExecutor } from './executor.ts';
import {
  certify,
  counterHandlers,
  counterTx,
  nextBlock,
  nodeCryptoSigner,
  testGenesis,
  testValidators,
} from './testing.ts';

const validators = testValidators(4);
const senders = [1, 2, 3].map((i) => nodeCryptoSigner(new Uint8Array(32).fill(0x30 + i)));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface Spec {
  sender: number;
  /** Offset from the model's next nonce: 0 = correct, <0 too low, >0 gap. */
  nonceOffset: number;
  forged: boolean;
  reject: boolean;
  /** Re-submit an earlier transaction instead (replay). */
  replay: number | undefined;
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  sender: fc.integer({ min: 0, max: 2 }),
  nonceOffset: fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0), fc.integer({ min: -2, max: 2 })),
  forged: fc.integer({ min: 0, max: 9 }).map((x) => x < 2),
  reject: fc.integer({ min: 0, max: 9 }).map((x) => x < 2),
  replay: fc.option(fc.nat(), { nil: undefined, freq: 6 }),
});

t.test('receipts follow the framework rules; roots are deterministic', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'vigil-rules-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  let run = 0;
  const seen = new Set<string>();
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(specArb, { maxLength: 8 }), { minLength: 1, maxLength: 5 }),
      async (blocks) => {
        const stores = await Promise.all([0, 1].map((i) => ChainStore.open(join(base, `${run}-${i}`))));
        run++;
        try {
          const execs = stores.map(
            (store, i) =>
              new BlockExecutor({
                store,
                handlers: counterHandlers,
                verifier: inlineBatchVerifier(i === 0 ? referenceVerifier : fastVerifier),
              }),
          );
          for (const s of stores) await s.initChain(testGenesis(validators));
          const lastNonce = [0, 0, 0];
          const consumed = new Set<string>();
          const history: Uint8Array[] = [];
          for (const specs of blocks) {
            const txs: Uint8Array[] = [];
            const expected: string[] = [];
            const planned = [...lastNonce];
            for (const s of specs) {
              let bytes: Uint8Array;
              if (s.replay !== undefined && history.length > 0) bytes = history[s.replay % history.length]!;
              else {
                const nonce = Math.max(1, planned[s.sender]! + 1 + s.nonceOffset);
                bytes = counterTx(senders[s.sender]!, nonce, s.reject ? 'reject' : `k${s.sender}`, 1);
                if (s.forged) {
                  const tx = decodeTransaction(bytes);
                  bytes = encodeTransaction({
                    ...tx,
                    signature: tx.signature.map((b, i) => (i === 1 ? b ^ 2 : b)),
                  });
                }
                if (!s.forged && nonce === planned[s.sender]! + 1) planned[s.sender] = nonce;
              }
              txs.push(bytes);
              history.push(bytes);
              // The model.
              const tx = decodeTransaction(bytes);
              const id = hex(transactionId(tx));
              const who = senders.findIndex((x) => hex(x.publicKey) === hex(tx.sender));
              const sigOk = referenceVerifier.verify(tx.signature, transactionSigningBytes(tx), tx.sender);
              if (consumed.has(id)) expected.push('DUPLICATE_TX');
              else if (!sigOk) expected.push('BAD_SIGNATURE');
              else if (tx.nonce <= lastNonce[who]!) expected.push('NONCE_TOO_LOW');
              else if (tx.nonce !== lastNonce[who]! + 1) expected.push('NONCE_GAP');
              else {
                lastNonce[who] = tx.nonce;
                consumed.add(id);
                expected.push(tx.body[0] === 'reject' ? 'TEST_REJECTED' : 'ok');
              }
            }
            const results = [];
            for (let i = 0; i < 2; i++) {
              const block = nextBlock(stores[i]!.requireHead(), txs, 1_700_000_000_000 + results.length);
              results.push(await execs[i]!.applyBlock(block, certify('vigil-test', block, validators)));
            }
            const got = results[0]!.receipts.map((r) => (r.status === 'rejected' ? r.code : 'ok'));
            for (const code of got) seen.add(code);
            if (JSON.stringify(got) !== JSON.stringify(expected)) return false;
            if (hex(results[0]!.stateRoot) !== hex(results[1]!.stateRoot)) return false;
          }
          return true;
        } finally {
          for (const s of stores) await s.close();
        }
      },
    ),
    { numRuns: Number(process.env.VIGIL_PROPERTY_RUNS ?? 20), seed: Number(process.env.VIGIL_SEED ?? 42) },
  );
  // The generator must actually exercise every rule, or the property says little.
  for (const code of ['ok', 'DUPLICATE_TX', 'BAD_SIGNATURE', 'NONCE_TOO_LOW', 'NONCE_GAP', 'TEST_REJECTED']) {
    t.ok(seen.has(code), `outcome ${code} occurred`);
  }
});
