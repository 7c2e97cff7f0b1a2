// Signed reads survive a clock step: a REQUEST_EXPIRED answer makes the client measure the node's clock
// again and retry once, instead of failing every read until the page is reloaded.
import { signerFromSeed } from '@vigil/consensus/wire';
import t, { type Test } from 'tap';
import { ApiProblem, Client } from './client.ts';

const signer = signerFromSeed(new Uint8Array(32).fill(3));

function fakeNode(t: Test, nodeTime: () => number) {
  const seen: { url: string; timestamp?: number }[] = [];
  const real = globalThis.fetch;
  globalThis.fetch = (async (input: string, init?: RequestInit) => {
    const headers = (init?.headers ?? {}) as Record<string, string>;
    const ts = headers['x-vigil-timestamp'];
    seen.push({ url: String(input), ...(ts !== undefined ? { timestamp: Number(ts) } : {}) });
    if (String(input) === '/v1/status') {
      return new Response(JSON.stringify({ chainId: 'c', time: nodeTime() }), { status: 200 });
    }
    if (ts !== undefined && Math.abs(Number(ts) - nodeTime()) > 60_000) {
      return new Response(JSON.stringify({ code: 'REQUEST_EXPIRED', title: 'expired' }), { status: 401 });
    }
    return new Response(JSON.stringify({ ok: true }), { status: 200 });
  }) as typeof fetch;
  t.teardown(() => {
    globalThis.fetch = real;
  });
  return seen;
}

t.test('after a clock step, a signed read re-measures the offset and succeeds', async (t) => {
  let offset = 0;
  const seen = fakeNode(t, () => Date.now() + offset);
  const client = await Client.connect();
  t.same(await client.signedGet(signer, '/v1/patients/x/news2'), { ok: true });
  // The machine slept and its clock was stepped: the node is now 10 minutes ahead.
  offset = 10 * 60_000;
  t.same(await client.signedGet(signer, '/v1/patients/x/news2'), { ok: true }, 'served after a resync');
  t.ok(Math.abs(client.skewMs - offset) < 5_000, 'the offset was measured again');
  t.same(
    seen.map((s) => s.url),
    ['/v1/status', '/v1/patients/x/news2', '/v1/patients/x/news2', '/v1/status', '/v1/patients/x/news2'],
    'one refused read, one status, one retry',
  );
});

t.test('other refusals are not retried', async (t) => {
  fakeNode(t, () => Date.now());
  const client = await Client.connect();
  client.skewMs = 0;
  const real = globalThis.fetch;
  let calls = 0;
  globalThis.fetch = (async () => {
    calls++;
    return new Response(JSON.stringify({ code: 'NO_GRANT', title: 'no' }), { status: 403 });
  }) as typeof fetch;
  t.teardown(() => {
    globalThis.fetch = real;
  });
  const err = await client.signedGet(signer, '/v1/patients/x/news2').then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof ApiProblem && err.code === 'NO_GRANT', 'the refusal is the answer');
  t.equal(calls, 1, 'asked once');
});

t.test(
  'submitting: true from a submission until its answer, failed or not (the idle logoff waits)',
  async (t) => {
    const real = globalThis.fetch;
    const answers: (() => void)[] = [];
    globalThis.fetch = (async (input: string) => {
      if (String(input).startsWith('/v1/accounts/'))
        return new Response(JSON.stringify({ nonce: 0, pendingNonce: 0 }), { status: 200 });
      // The commit waits until the test answers it.
      await new Promise<void>((r) => answers.push(r));
      return new Response(JSON.stringify({ id: 'ab', status: 'rejected', code: 'NO_GRANT' }), {
        status: 200,
      });
    }) as typeof fetch;
    t.teardown(() => {
      globalThis.fetch = real;
    });
    const client = new Client('c', 0);
    t.equal(client.submitting, false);
    const body = { type: 61, patient: new Uint8Array(32), alertSeq: 1 } as const;
    const first = client.submit(signer, body).catch(() => 'refused');
    const second = client.submit(signer, body).catch(() => 'refused');
    t.equal(client.submitting, true, 'sent');
    while (answers.length === 0) await new Promise((r) => setImmediate(r));
    answers.shift()!();
    t.equal(await first, 'refused');
    t.equal(client.submitting, true, 'the second is still queued');
    while (answers.length === 0) await new Promise((r) => setImmediate(r));
    answers.shift()!();
    t.equal(await second, 'refused');
    await new Promise((r) => setImmediate(r));
    t.equal(client.submitting, false, 'both answered');
  },
);
