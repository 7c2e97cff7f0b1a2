// End to end: proofs served by the chain store verify with the browser-safe verifier in
// consensus/src/proof, against a certified header, and every tampering is refused with its code.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { decodeTransaction, merkleLeafHash, referenceVerifier, transactionId } from '@vigil/consensus/wire';
import {
  decodeStateProof,
  encodeStateProof,
  verifyStateProof,
  verifyTransactionLeafProof,
  verifyTransactionProof,
} from '@vigil/consensus/proof/index.ts';
import { BlockExecutor } from '../exec/executor.ts';
import {
  certify,
  counterHandlers,
  counterKey,
  counterTx,
  nextBlock,
  seededSigner,
  testGenesis,
  testValidators,
} from '../exec/testing.ts';
import { inlineBatchVerifier } from '../verify-pool/types.ts';
import { ChainStore } from './chain-store.ts';

const validators = testValidators(4);
const keys = validators.map((v) => v.publicKey);
const alice = seededSigner(5, 1);

t.test('state and transaction proofs verify against a certified header; tampering is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-proofs-'));
  const store = await ChainStore.open(dir);
  t.teardown(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  await store.initChain(testGenesis(validators));
  const exec = new BlockExecutor({
    store,
    handlers: counterHandlers,
    verifier: inlineBatchVerifier(referenceVerifier),
  });
  const txs = [counterTx(alice, 1, 'a', 4), counterTx(alice, 2, 'b', 5), counterTx(alice, 3, 'c', 6)];
  const b1 = nextBlock(store.requireHead(), txs, 1_700_000_001_000);
  await exec.applyBlock(b1, certify('vigil-test', b1, validators));
  // Block 2 carries the state root after block 1 (stateHeight 1): the header that proves that state.
  const b2 = nextBlock(store.requireHead(), [], 1_700_000_002_000);
  const c2 = certify('vigil-test', b2, validators);
  await exec.applyBlock(b2, c2);

  const at1 = await store.proveState(counterKey('a'), 1);
  t.same(at1.root, b2.header.stateRoot);
  const proof = decodeStateProof(encodeStateProof(at1.proof));
  t.same(verifyStateProof(proof, counterKey('a'), at1.value, b2.header, c2, keys, referenceVerifier), {
    stateHeight: 1,
  });
  const absent = await store.proveState(counterKey('zzz'), 1);
  t.equal(absent.value, undefined);
  verifyStateProof(absent.proof, counterKey('zzz'), undefined, b2.header, c2, keys, referenceVerifier);
  t.throws(
    () =>
      verifyStateProof(
        proof,
        counterKey('a'),
        Uint8Array.of(0, 0, 0, 9),
        b2.header,
        c2,
        keys,
        referenceVerifier,
      ),
    { code: 'STATE_PROOF_INVALID' },
  );
  t.throws(
    () => verifyStateProof(proof, counterKey('a'), undefined, b2.header, c2, keys, referenceVerifier),
    {
      code: 'STATE_PROOF_INVALID',
    },
  );
  const weak = { ...c2, votes: c2.votes.slice(1) };
  t.throws(
    () => verifyStateProof(proof, counterKey('a'), at1.value, b2.header, weak, keys, referenceVerifier),
    {
      code: 'CERTIFICATE_INVALID',
      wireCode: 'CERT_NO_QUORUM',
    },
  );
  const otherRoot = { ...b2.header, stateRoot: new Uint8Array(32).fill(3) };
  t.throws(
    () => verifyStateProof(proof, counterKey('a'), at1.value, otherRoot, c2, keys, referenceVerifier),
    {
      code: 'CERTIFICATE_INVALID',
    },
  );

  const id = transactionId(decodeTransaction(txs[1]!));
  const tp = await store.proveTransaction(id);
  t.ok(tp);
  t.same(
    verifyTransactionProof(
      tp!.txBytes,
      tp!.index,
      tp!.proof,
      tp!.header,
      tp!.certificate,
      keys,
      referenceVerifier,
    ),
    { height: 1 },
  );
  t.throws(
    () =>
      verifyTransactionProof(
        txs[0]!,
        tp!.index,
        tp!.proof,
        tp!.header,
        tp!.certificate,
        keys,
        referenceVerifier,
      ),
    { code: 'TX_PROOF_INVALID' },
  );
  t.throws(
    () =>
      verifyTransactionProof(tp!.txBytes, 2, tp!.proof, tp!.header, tp!.certificate, keys, referenceVerifier),
    { code: 'TX_PROOF_INVALID' },
  );
  const bent = tp!.proof.map((p, i) => (i === 0 ? p.map((b, j) => (j === 0 ? b ^ 1 : b)) : p));
  t.throws(
    () =>
      verifyTransactionProof(
        tp!.txBytes,
        tp!.index,
        bent,
        tp!.header,
        tp!.certificate,
        keys,
        referenceVerifier,
      ),
    { code: 'TX_PROOF_INVALID' },
  );
  // From the leaf hash alone (a verifier not allowed to see the bytes): the same checks.
  const leaf = merkleLeafHash(tp!.txBytes);
  const fromLeaf = (l: Uint8Array, index = tp!.index, path = tp!.proof) =>
    verifyTransactionLeafProof(l, index, path, tp!.header, tp!.certificate, keys, referenceVerifier);
  t.same(fromLeaf(leaf), { height: 1 });
  t.throws(() => fromLeaf(merkleLeafHash(txs[0]!)), { code: 'TX_PROOF_INVALID' }, 'another leaf');
  t.throws(() => fromLeaf(leaf, 2), { code: 'TX_PROOF_INVALID' }, 'another index');
  t.throws(() => fromLeaf(leaf, tp!.index, bent), { code: 'TX_PROOF_INVALID' }, 'a bent path');
  t.throws(() => fromLeaf(leaf.subarray(1)), { code: 'TX_PROOF_INVALID' }, 'a short hash');
  t.throws(
    () =>
      verifyTransactionLeafProof(
        leaf,
        tp!.index,
        tp!.proof,
        tp!.header,
        tp!.certificate,
        keys.slice(1),
        referenceVerifier,
      ),
    { code: 'CERTIFICATE_INVALID' },
    'a certificate of another validator set',
  );
});
