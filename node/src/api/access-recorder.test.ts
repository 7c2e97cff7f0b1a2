// The read recorder with the mempool replaced by a recording fake: coalescing, nonces, resync on a
// nonce conflict, and what a refused recording costs.
import {
  decodeTransaction,
  sha256,
  signerFromSeed,
  toHex,
  verifyTransactionSignature,
  referenceVerifier,
} from '@vigil/consensus/wire';
import { decodeBody } from '@vigil/consensus/wire/bodies/index.ts';
import t from 'tap';
import { MempoolRejected } from '../mempool/mempool.ts';
import { eventually } from '../testing/ports.ts';
import { AccessRecorder } from './access-recorder.ts';

const signer = signerFromSeed(sha256(new TextEncoder().encode('validator')));
const k = (s: string) => sha256(new TextEncoder().encode(s));
const [reader, other, patient] = [k('reader'), k('other'), k('patient')];

function fakePool(opts: { last: number; refuse?: (nonce: number, attempt: number) => string | undefined }) {
  const submitted: ReturnType<typeof decodeTransaction>[] = [];
  let last = opts.last;
  let attempts = 0;
  return {
    submitted,
    setLast: (n: number) => {
      last = n;
    },
    deps: {
      chainId: 'vigil-test',
      signer,
      now: () => 1_000,
      lastNonce: async () => Math.max(last, ...submitted.map((x) => x.nonce)),
      submit: async (bytes: Uint8Array) => {
        const tx = decodeTransaction(bytes);
        const code = opts.refuse?.(tx.nonce, attempts++);
        if (code) throw new MempoolRejected(code as 'NONCE_TAKEN', 'fake');
        submitted.push(tx);
        return new Uint8Array(32);
      },
    },
  };
}

t.test('reads are coalesced per (reader, patient, purpose) and signed with consecutive nonces', async (t) => {
  const pool = fakePool({ last: 5 });
  const rec = new AccessRecorder(pool.deps, { flushMs: 10_000 });
  rec.record({ reader, patient, categories: ['vitals.heartRate'], purpose: 1, readAt: 300 });
  rec.record({ reader, patient, categories: ['alerts', 'vitals.heartRate'], purpose: 1, readAt: 200 });
  rec.record({ reader, patient, categories: ['alerts'], purpose: 3, readAt: 400 });
  rec.record({ reader: other, patient, categories: ['vitals.spo2'], purpose: 1, readAt: 500 });
  await rec.flush();
  t.equal(pool.submitted.length, 3);
  t.same(
    pool.submitted.map((x) => x.nonce),
    [6, 7, 8],
  );
  for (const tx of pool.submitted) {
    t.ok(verifyTransactionSignature(tx, referenceVerifier), 'signed by the validator key');
    t.equal(toHex(tx.sender), toHex(signer.publicKey));
  }
  const first = decodeBody(52, pool.submitted[0]!.body);
  t.match(first, { reader, patient, categories: ['vitals.heartRate', 'alerts'], purpose: 1, readAt: 200 });
  t.match(decodeBody(52, pool.submitted[1]!.body), { purpose: 3 });
  t.match(decodeBody(52, pool.submitted[2]!.body), { reader: other });
  await rec.flush();
  t.equal(pool.submitted.length, 3, 'nothing pending, nothing submitted');
  await rec.close();
});

t.test('a nonce conflict resyncs once; any other refusal is counted and the next read goes on', async (t) => {
  const pool = fakePool({
    last: 0,
    refuse: (_n, attempt) => (attempt === 0 ? 'NONCE_TAKEN' : attempt === 2 ? 'MEMPOOL_FULL' : undefined),
  });
  const errors: unknown[] = [];
  const rec = new AccessRecorder({ ...pool.deps, onError: (e) => errors.push(e) }, { flushMs: 10_000 });
  pool.setLast(3); // someone else took nonces 1..3 meanwhile
  rec.record({ reader, patient, categories: ['alerts'], purpose: 1, readAt: 1 });
  rec.record({ reader: other, patient, categories: ['alerts'], purpose: 1, readAt: 1 });
  rec.record({ reader, patient, categories: ['alerts'], purpose: 2, readAt: 1 });
  await rec.flush();
  t.same(
    pool.submitted.map((x) => x.nonce),
    [4, 5],
    'resynced after NONCE_TAKEN',
  );
  t.equal(rec.submitted, 2);
  t.equal(rec.failed, 1);
  t.equal((errors[0] as MempoolRejected).code, 'MEMPOOL_FULL');
});

t.test('a full pending set forces a flush without waiting for the timer', async (t) => {
  const pool = fakePool({ last: 0 });
  const rec = new AccessRecorder(pool.deps, { flushMs: 10_000, maxPending: 2 });
  rec.record({ reader, patient, categories: ['alerts'], purpose: 1, readAt: 1 });
  rec.record({ reader: other, patient, categories: ['alerts'], purpose: 1, readAt: 1 });
  t.ok(
    await eventually(() => pool.submitted.length === 2, 2000),
    'flushed with the 10 s timer still pending',
  );
  await rec.close();
  rec.record({ reader, patient, categories: ['alerts'], purpose: 1, readAt: 2 });
  await rec.flush();
  t.equal(pool.submitted.length, 2, 'a closed recorder records nothing');
});

t.test('a failure outside the mempool costs one record, never the recorder', async (t) => {
  // The nonce read fails once (a store error): only the record it was for is lost, counted and
  // reported; the rest of its batch and every later read is still recorded. Before, the rejection
  // stuck in the flush chain: nothing was recorded again, nothing counted, and each flush the
  // recorder started itself was an unhandled rejection (fatal to the process by default).
  const pool = fakePool({ last: 0 });
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  let failOnce = true;
  const errors: unknown[] = [];
  const rec = new AccessRecorder(
    {
      ...pool.deps,
      lastNonce: async () => {
        if (failOnce) {
          failOnce = false;
          throw new Error('store read failed');
        }
        return pool.deps.lastNonce();
      },
      onError: (e) => errors.push(e),
    },
    { flushMs: 10_000 },
  );
  rec.record({ reader, patient, categories: ['alerts'], purpose: 1, readAt: 1 });
  rec.record({ reader: other, patient, categories: ['alerts'], purpose: 1, readAt: 1 });
  rec.record({ reader, patient, categories: ['alerts'], purpose: 2, readAt: 1 });
  await rec.flush();
  t.equal(rec.failed, 1, 'the one record counted as failed');
  t.match(errors, [{ message: 'store read failed' }], 'and reported');
  t.same(
    pool.submitted.map((x) => x.nonce),
    [1, 2],
    'the rest of the batch recorded',
  );

  // Later reads, flushed by the recorder itself (a full pending set), are recorded too, even when the
  // failure reporter throws.
  let failAgain = true;
  const forced = new AccessRecorder(
    {
      ...pool.deps,
      lastNonce: async () => {
        if (failAgain) {
          failAgain = false;
          throw new Error('store read failed again');
        }
        return pool.deps.lastNonce();
      },
      onError: () => {
        throw new Error('a failing reporter');
      },
    },
    { flushMs: 10_000, maxPending: 1 },
  );
  for (const r of [k('r1'), k('r2'), k('r3')]) {
    forced.record({ reader: r, patient, categories: ['alerts'], purpose: 1, readAt: 2 });
    await forced.flush(); // the flush the recorder started: this waits for it
  }
  t.equal(forced.failed, 1);
  t.equal(forced.submitted, 2, 'later reads recorded');
  t.same(
    pool.submitted.map((x) => x.nonce),
    [1, 2, 3, 4],
  );
  await new Promise(setImmediate);
  t.same(unhandled, [], 'no unhandled rejection');
});

t.test(
  'admits: fail closed once the records outstanding reach the bound; coalescing reads still pass',
  async (t) => {
    const pool = fakePool({ last: 0 });
    let inMempool = 0;
    const rec = new AccessRecorder(
      { ...pool.deps, pending: () => inMempool },
      { flushMs: 10_000, maxOutstanding: 3 },
    );
    const a = { reader, patient, purpose: 1 as const };
    const b = { reader: other, patient, purpose: 1 as const };
    const c = { reader, patient, purpose: 3 as const };
    t.ok(rec.admits(a), 'room');
    rec.record({ ...a, categories: ['alerts'], readAt: 1 });
    inMempool = 1;
    rec.record({ ...b, categories: ['alerts'], readAt: 1 });
    t.notOk(rec.admits(c), 'two held and one in the mempool: a new record would pass the bound');
    t.ok(rec.admits(a), 'a read that joins a held record costs nothing');
    inMempool = 0;
    t.ok(rec.admits(c), 'the mempool drained: room again');
    await rec.close();
    t.notOk(rec.admits(c), 'a closed recorder records nothing, so it admits nothing');
  },
);
