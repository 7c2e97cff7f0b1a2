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
