// The node client against scripted responses (an injected fetch): failover, problem details, and
// hostile bodies. No network.
import t from 'tap';
import { NodeClient } from './api-client.ts';

type Handler = (url: string, init: RequestInit) => Response | Promise<Response>;

function client(handler: Handler, nodes = ['http://a', 'http://b'], extra = {}) {
  const calls: string[] = [];
  const fetchFn = (async (url: string, init: RequestInit) => {
    calls.push(`${init.method} ${url}`);
    return handler(url, init);
  }) as unknown as typeof fetch;
  const sleeps: number[] = [];
  const c = new NodeClient({
    nodes,
    fetch: fetchFn,
    maxRounds: 2,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...extra,
  });
  return { c, calls, sleeps };
}

const json = (status: number, body: unknown, type = 'application/json') =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });
const problem = (status: number, code: string) =>
  json(
    status,
    { type: 'about:blank', title: code.toLowerCase(), status, code, detail: '' },
    'application/problem+json',
  );
const ID = 'ab'.repeat(32);

t.test('fails over on network errors and 5xx, then sticks to the node that answered', async (t) => {
  const { c, calls } = client((url) => {
    if (url.startsWith('http://a')) throw new TypeError('fetch failed');
    return json(200, { chainId: 'c', height: 3, view: 0, time: 5 });
  });
  t.same(await c.status(), { chainId: 'c', height: 3, view: 0, time: 5 });
  t.equal(c.currentNode, 'http://b');
  await c.status();
  t.same(calls, ['GET http://a/v1/status', 'GET http://b/v1/status', 'GET http://b/v1/status']);
});

t.test('all nodes down: backs off between rounds, then NO_NODE_AVAILABLE', async (t) => {
  const { c, calls, sleeps } = client(() => new Response('busy', { status: 503 }));
  await t.rejects(c.status(), { code: 'NO_NODE_AVAILABLE' });
  t.equal(calls.length, 4, 'two rounds over two nodes');
  t.same(sleeps, [100], 'full-jitter delay before the second round (0.5 x 200 ms)');
});

t.test('submit: accepted, DUPLICATE_TX is success, other problems are results not throws', async (t) => {
  const answers = [
    json(202, { id: ID }),
    problem(409, 'DUPLICATE_TX'),
    problem(409, 'NONCE_TOO_LOW'),
    problem(503, 'MEMPOOL_FULL'),
  ];
  const { c } = client(() => answers.shift()!, ['http://a']);
  t.same(await c.submit(new Uint8Array([1])), { ok: true, id: ID, duplicate: false });
  t.same(await c.submit(new Uint8Array([1])), { ok: true, id: '', duplicate: true });
  t.same(await c.submit(new Uint8Array([1])), {
    ok: false,
    code: 'NONCE_TOO_LOW',
    title: 'nonce_too_low',
    status: 409,
  });
  await t.rejects(c.submit(new Uint8Array([1])), { code: 'NO_NODE_AVAILABLE' }, 'MEMPOOL_FULL is retryable');
});

t.test('batch: results must match the transactions sent', async (t) => {
  const { c } = client(
    () => json(202, { results: [{ id: ID }, { error: { code: 'BAD_SIGNATURE', title: 'x' } }] }),
    ['http://a'],
  );
  const r = await c.submitBatch([new Uint8Array([1]), new Uint8Array([2])]);
  t.same(r, [
    { ok: true, id: ID, duplicate: false },
    { ok: false, code: 'BAD_SIGNATURE', title: 'x', status: 202 },
  ]);
  await t.rejects(c.submitBatch([new Uint8Array([1])]), { code: 'MALFORMED_RESPONSE' });
  const whole = client(() => problem(400, 'MALFORMED'), ['http://a']).c;
  t.same(
    (await whole.submitBatch([new Uint8Array([1]), new Uint8Array([2])])).map((x) => (x.ok ? 'ok' : x.code)),
    ['MALFORMED', 'MALFORMED'],
    'a refused batch gives every transaction the problem',
  );
});

t.test('hostile bodies are typed errors', async (t) => {
  const bodies: Response[] = [
    new Response('not json', { status: 200 }),
    json(200, [1, 2]),
    json(200, { nonce: -1, pendingNonce: 0 }),
    json(200, { nonce: 1.5, pendingNonce: 0 }),
    json(202, { id: 'xyz' }),
    json(200, { id: ID, status: 'exploded' }),
  ];
  const { c } = client(() => bodies.shift()!, ['http://a']);
  await t.rejects(c.account('00'), { code: 'MALFORMED_RESPONSE' });
  await t.rejects(c.account('00'), { code: 'MALFORMED_RESPONSE' });
  await t.rejects(c.account('00'), { code: 'MALFORMED_RESPONSE' });
  await t.rejects(c.account('00'), { code: 'MALFORMED_RESPONSE' });
  await t.rejects(c.submit(new Uint8Array([1])), { code: 'MALFORMED_RESPONSE' });
  await t.rejects(c.txStatus(ID), { code: 'MALFORMED_RESPONSE' });
  const big = client(() => new Response('x'.repeat(2000), { status: 200 }), ['http://a'], {
    maxResponseBytes: 1000,
  }).c;
  await t.rejects(big.status(), { code: 'NO_NODE_AVAILABLE' }, 'an oversized body counts as a failed node');
});

t.test('txStatus: 404 is unknown; REJECTED problems carry the node code', async (t) => {
  const answers = [
    new Response('', { status: 404 }),
    json(200, { id: ID, status: 'committed', height: 7 }),
    problem(400, 'BAD_ID'),
  ];
  const { c } = client(() => answers.shift()!, ['http://a']);
  t.same(await c.txStatus(ID), { id: ID, status: 'unknown' });
  t.same(await c.txStatus(ID), { id: ID, status: 'committed', height: 7 });
  await t.rejects(c.txStatus(ID), { code: 'REJECTED', problemCode: 'BAD_ID' });
});

t.test('Retry-After on 429/503 is honoured: no request to that node before it has passed', async (t) => {
  let now = 1_000_000;
  const { c, calls, sleeps } = client(
    () =>
      new Response(JSON.stringify({ code: 'RATE_LIMITED', title: 'slow down', status: 429 }), {
        status: 429,
        headers: { 'content-type': 'application/problem+json', 'retry-after': '7' },
      }),
    ['http://a'],
    {
      now: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
    },
  );
  await t.rejects(c.status(), { code: 'NO_NODE_AVAILABLE' });
  t.same(sleeps, [7_000], 'the second round waits for Retry-After, not the 100 ms backoff');
  t.equal(calls.length, 2);
  now += 1_000;
  t.equal(c.retryAfterMs, 6_000, 'exposed so a caller (the device loop) can wait as long');
  await t.rejects(c.status(), { code: 'NO_NODE_AVAILABLE' });
  t.equal(calls.length, 3, 'the first round skipped the node still inside its Retry-After');
  const big = client(
    () => new Response('', { status: 503, headers: { 'retry-after': '999999' } }),
    ['http://a'],
    { maxRounds: 1, now: () => now },
  );
  await t.rejects(big.c.status(), { code: 'NO_NODE_AVAILABLE' });
  t.equal(big.c.retryAfterMs, 300_000, 'capped: a node cannot park a device for days');
});

t.test('proof: the outcome fields (ADR 0123) are parsed strictly', async (t) => {
  const base = { leaf: 'aa', index: 0, proof: [], header: '0a', certificate: '0b' };
  const outcome = {
    stateProof: '01',
    height: 5,
    header: '0c',
    certificate: '0d',
    stateHeight: 4,
    stateAsOf: 4,
  };
  const full = { ...base, receipt: '02', receiptProof: ['03', '04'], receiptsRoot: '05', outcome };
  const answer = (body: unknown) => client(() => json(200, body), ['http://a']).c.proof(ID);
  t.same(await answer(full), full, 'every field kept');
  t.same(
    await answer({ ...base, receipt: '02', receiptProof: [], receiptsRoot: '05' }),
    { ...base, receipt: '02', receiptProof: [], receiptsRoot: '05' },
    'no outcome yet: left out, not an error',
  );
  const { stateAsOf: _, ...noAsOf } = outcome;
  t.same((await answer({ ...full, outcome: noAsOf })).outcome, noAsOf, 'stateAsOf is optional');
  const hostile: [string, unknown][] = [
    ['receipt not hex', { ...full, receipt: 'zz' }],
    ['receipt odd length', { ...full, receipt: 'abc' }],
    ['receipt a number', { ...full, receipt: 5 }],
    ['receiptProof not an array', { ...full, receiptProof: '03' }],
    ['receiptProof with a non-hex item', { ...full, receiptProof: ['03', 'xy'] }],
    ['receiptsRoot null', { ...full, receiptsRoot: null }],
    ['outcome an array', { ...full, outcome: [] }],
    ['outcome a string', { ...full, outcome: 'ab' }],
    ['outcome.stateProof missing', { ...full, outcome: { ...outcome, stateProof: undefined } }],
    ['outcome.header not hex', { ...full, outcome: { ...outcome, header: 'g0' } }],
    ['outcome.certificate missing', { ...full, outcome: { ...outcome, certificate: undefined } }],
    ['outcome.height fractional', { ...full, outcome: { ...outcome, height: 1.5 } }],
    ['outcome.stateHeight negative', { ...full, outcome: { ...outcome, stateHeight: -1 } }],
    ['outcome.stateHeight a string', { ...full, outcome: { ...outcome, stateHeight: '4' } }],
    ['outcome.stateAsOf a string', { ...full, outcome: { ...outcome, stateAsOf: '4' } }],
  ];
  for (const [what, body] of hostile) {
    await t.rejects(answer(body), { code: 'MALFORMED_RESPONSE' }, what);
  }
});

t.test('stateProof (ADR 0131): the answer is shape-checked, and `node` asks that node alone', async (t) => {
  const full = {
    key: '006e6f6e6365',
    value: '03',
    stateHeight: 4,
    stateAsOf: 4,
    root: 'ee',
    proof: '01',
    height: 5,
    header: '0a',
    certificate: '0b',
    validators: ['ff'],
  };
  const { root: _r, validators: _v, ...kept } = full;
  const answer = (body: unknown) => client(() => json(200, body), ['http://a']).c.stateProof(full.key);
  t.same(await answer(full), kept, 'the node’s validators are not kept: the device has its own set');
  t.same(await answer({ ...full, value: null }), { ...kept, value: null }, 'null: the key is absent');
  const { stateAsOf: _a, ...noAsOf } = kept;
  t.same(await answer({ ...full, stateAsOf: undefined }), noAsOf, 'stateAsOf is optional');
  const hostile: [string, unknown][] = [
    ['an array', [full]],
    ['value missing', { ...full, value: undefined }],
    ['value a number', { ...full, value: 3 }],
    ['value not hex', { ...full, value: 'zz' }],
    ['proof odd length', { ...full, proof: 'abc' }],
    ['header missing', { ...full, header: undefined }],
    ['certificate an object', { ...full, certificate: {} }],
    ['key not a string', { ...full, key: 7 }],
    ['height negative', { ...full, height: -1 }],
    ['stateHeight fractional', { ...full, stateHeight: 1.5 }],
    ['stateAsOf a string', { ...full, stateAsOf: '4' }],
  ];
  for (const [what, body] of hostile) {
    await t.rejects(answer(body), { code: 'MALFORMED_RESPONSE' }, what);
  }
  await t.rejects(client(() => json(200, full)).c.stateProof('xyz'), { code: 'USAGE' }, 'a key is hex');
  const { c, calls } = client((url) =>
    url.startsWith('http://b') ? json(200, full) : problem(404, 'NO_CERTIFIED_STATE'),
  );
  await t.rejects(c.stateProof(full.key, { node: 'http://a' }), {
    code: 'REJECTED',
    problemCode: 'NO_CERTIFIED_STATE',
  });
  t.same(await c.stateProof(full.key, { node: 'http://b' }), kept);
  t.same(calls, [`GET http://a/v1/proofs/${full.key}`, `GET http://b/v1/proofs/${full.key}`], 'no failover');
});
