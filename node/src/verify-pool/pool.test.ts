import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { referenceVerifier, signerFromSeed } from '@vigil/consensus/wire';
import { nodeCryptoSigner } from '../exec/testing.ts';
import type { MisbehaviourSpec } from './misbehaving-worker.ts';
import { packChecks, unpackChecks } from './packing.ts';
import { VerifyPool } from './pool.ts';
import type { SignatureCheck } from './types.ts';

function makeChecks(n: number, seed: number): { checks: SignatureCheck[]; expected: boolean[] } {
  const checks: SignatureCheck[] = [];
  const expected: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const s = new Uint8Array(32);
    s[0] = seed;
    s[1] = i % 7;
    const signer = nodeCryptoSigner(s);
    const message = new TextEncoder().encode(`message ${seed}/${i}`);
    const signature = signer.sign(message);
    // Every third check is tampered with in a different field.
    const kind = i % 3 === 2 ? Math.floor((i % 9) / 3) : -1;
    const c: SignatureCheck = { signature, message, publicKey: signer.publicKey };
    if (kind === 0) c.signature = signature.map((b, j) => (j === 5 ? b ^ 1 : b));
    if (kind === 1) c.message = message.map((b, j) => (j === 0 ? b ^ 1 : b));
    if (kind === 2) c.publicKey = signer.publicKey.slice(0, 31); // wrong length
    checks.push(c);
    expected.push(kind < 0);
  }
  return { checks, expected };
}

t.test('the node:crypto test signer signs exactly like the wire signer', async (t) => {
  const seed = new Uint8Array(32).fill(9);
  const m = new TextEncoder().encode('same bytes');
  t.same(nodeCryptoSigner(seed).publicKey, signerFromSeed(seed).publicKey);
  t.same(nodeCryptoSigner(seed).sign(m), signerFromSeed(seed).sign(m));
});

t.test('packing round-trips arbitrary checks', async (t) => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
          publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
          message: fc.uint8Array({ maxLength: 300 }),
        }),
        { maxLength: 20 },
      ),
      (checks) => {
        const back = unpackChecks(packChecks(checks));
        return (
          back.length === checks.length &&
          back.every(
            (c, i) =>
              Buffer.from(c.signature).equals(checks[i]!.signature) &&
              Buffer.from(c.publicKey).equals(checks[i]!.publicKey) &&
              Buffer.from(c.message).equals(checks[i]!.message),
          )
        );
      },
    ),
    { numRuns: 300 },
  );
  t.pass('round trip');
});

t.test('the pool agrees with the reference verifier, inline and across workers', async (t) => {
  const pool = new VerifyPool({ size: 2, maxChunk: 40 });
  t.teardown(() => pool.close());
  const small = makeChecks(9, 1);
  t.same(await pool.verifyBatch(small.checks), small.expected, 'inline path');
  const big = makeChecks(150, 2);
  const got = await pool.verifyBatch(big.checks);
  t.same(got, big.expected, 'worker path');
  t.same(
    got,
    big.checks.map((c) => referenceVerifier.verify(c.signature, c.message, c.publicKey)),
    'same answers as the reference',
  );
  // Concurrent batches do not mix up their answers.
  const [a, b] = await Promise.all([
    pool.verifyBatch(big.checks),
    pool.verifyBatch(makeChecks(120, 3).checks),
  ]);
  t.same(a, big.expected);
  t.same(b, makeChecks(120, 3).expected);
});

t.test('a closed pool refuses work with a typed error', async (t) => {
  const pool = new VerifyPool({ size: 1 });
  await pool.close();
  await t.rejects(pool.verifyBatch(makeChecks(1, 4).checks), { code: 'POOL_CLOSED' });
});

t.test('cpuMicros reports the workers CPU time, growing with work', async (t) => {
  const pool = new VerifyPool({ size: 2 });
  t.teardown(() => pool.close());
  const before = await pool.cpuMicros();
  await pool.verifyBatch(makeChecks(200, 5).checks);
  const after = await pool.cpuMicros();
  t.ok(before >= 0);
  t.ok(after > before, `${after} > ${before}`);
});

t.test(
  'a worker that crashes, hangs or answers short: its checks are sent again, never guessed',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-pool-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const url = new URL('./misbehaving-worker.ts', import.meta.url);
    /** `p`, or 'no answer' after `ms` (a pool that loses a request must fail the test, not hang it). */
    const within = async <T>(p: Promise<T>, ms: number) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'no answer'>((r) => {
        timer = setTimeout(() => r('no answer'), ms);
      });
      try {
        return await Promise.race([p, late]);
      } finally {
        clearTimeout(timer);
      }
    };
    for (const mode of ['crash', 'hang', 'short'] as const) {
      const marker = join(dir, mode);
      await writeFile(marker, '');
      const spec: MisbehaviourSpec = { marker, mode };
      const pool = new VerifyPool({ size: 1, stallMs: 300, workerUrl: url, workerData: spec });
      const { checks, expected } = makeChecks(40, 7);
      t.same(await within(pool.verifyBatch(checks), 20_000), expected, `${mode}: the right answers`);
      t.same(await pool.verifyBatch(checks), expected, `${mode}: and the replacement keeps working`);
      await pool.close();
    }
    // Every worker fails: the batch fails with a typed error, and no check is reported valid.
    for (const mode of ['crash', 'hang', 'short'] as const) {
      const marker = join(dir, `${mode}-always`);
      await writeFile(marker, '');
      const spec: MisbehaviourSpec = { marker, mode, always: true };
      const pool = new VerifyPool({ size: 2, stallMs: 300, workerUrl: url, workerData: spec });
      const outcome = await within(
        pool.verifyBatch(makeChecks(40, 8).checks).then(
          (r) => r,
          (e: unknown) => e,
        ),
        20_000,
      );
      t.match(outcome, { code: 'WORKER_FAILED' }, `${mode} everywhere: WORKER_FAILED`);
      await pool.close();
    }
  },
);
