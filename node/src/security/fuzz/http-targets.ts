// Fuzz targets for the HTTP API, driven in-process through fastify's inject (the same router, schema
// validation, content-type parsers and error handler as a socket, without the socket): hostile
// transaction submissions (random bytes, mutated transactions, random JSON, random and malformed
// content types) and signed patient-data reads with random x-vigil-* headers. The property: every
// answer is a 2xx or a 4xx problem document with a stable `code`, never a 5xx, never a hang. 503 is
// allowed only with its documented codes (the node refusing load rather than failing).
import { encodeTransaction, sha256, signerFromSeed, signTransaction, toHex } from '@vigil/consensus/wire';
import { encodeBody } from '@vigil/consensus/wire/bodies/index.ts';
import fc from 'fast-check';
import { signRequest } from '../../api/signed-request-client.ts';
import { startTestNode, type TestNode } from '../../api/testing/node.ts';
import { transactionToJson } from '../../api/tx-json.ts';
import { ACCEPTED, type AnyFuzzTarget, erase, FuzzFinding, type FuzzTarget } from './harness.ts';
import { hostileBytes } from './inputs.ts';

/** 503 answers the node may give under load; anything else 5xx is a finding. */
const LOAD_SHEDDING = new Set(['MEMPOOL_FULL', 'NONCE_CACHE_FULL', 'UNAVAILABLE', 'SENDER_LIMIT']);

interface Answer {
  statusCode: number;
  body: string;
}

function outcome(res: Answer, what: string): string {
  let code: unknown;
  try {
    const body = JSON.parse(res.body) as {
      code?: unknown;
      resourceType?: string;
      issue?: { details?: { coding?: { code?: unknown }[] } }[];
    };
    // A problem document (RFC 9457) or, on the FHIR routes, an OperationOutcome carrying the same code.
    code = body.resourceType === 'OperationOutcome' ? body.issue?.[0]?.details?.coding?.[0]?.code : body.code;
  } catch {
    code = undefined;
  }
  if (res.statusCode >= 500 && !(res.statusCode === 503 && LOAD_SHEDDING.has(String(code)))) {
    throw new FuzzFinding(`${what}: ${res.statusCode} ${res.body.slice(0, 300)}`);
  }
  if (res.statusCode >= 400 && typeof code !== 'string') {
    throw new FuzzFinding(`${what}: ${res.statusCode} without a problem code: ${res.body.slice(0, 300)}`);
  }
  return res.statusCode >= 400 ? `${res.statusCode} ${code}` : `${ACCEPTED} ${res.statusCode}`;
}

const CONTENT_TYPES = [
  'application/cbor',
  'application/cbor-seq',
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/CBOR',
  'application/cbor; q=1; x="a;b"',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/problem+json',
  '',
  ';',
  'application/json; charset=utf-16',
];

export interface HttpFuzz {
  targets: AnyFuzzTarget[];
  close(): Promise<void>;
}

/** Starts one in-process validator with its API; `close` stops it and removes its home. */
export async function httpTargets(): Promise<HttpFuzz> {
  const node: TestNode = await startTestNode();
  const { app, chainId } = node;
  const patient = signerFromSeed(sha256(new TextEncoder().encode('http-fuzz-patient')));
  const signed = [1, 2, 3].map((nonce) =>
    signTransaction(
      {
        version: 1,
        chainId,
        type: 20,
        sender: patient.publicKey,
        nonce,
        timestamp: Date.now(),
        body: encodeBody({ type: 20, patient: patient.publicKey }),
      },
      patient,
    ),
  );
  const txSeeds = signed.map(encodeTransaction);
  const jsonSeeds = signed.map((tx) => JSON.stringify(transactionToJson(tx)));

  const jsonBody: fc.Arbitrary<string> = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc
      .tuple(fc.constantFrom(...jsonSeeds), fc.nat(), fc.string({ maxLength: 8 }))
      .map(([s, at, ins]) => s.slice(0, at % s.length) + ins + s.slice((at % s.length) + 1)),
    fc.string({ maxLength: 64 }),
  );

  const submit: FuzzTarget<[string | undefined, Uint8Array | string, boolean]> = {
    name: 'http/POST /v1/transactions',
    weight: 0.2,
    arbitrary: fc.tuple(
      fc.option(
        fc.oneof(
          {
            weight: 6,
            arbitrary: fc.constantFrom('application/cbor', 'application/cbor-seq', 'application/json'),
          },
          { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
          { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
        ),
        { nil: undefined, freq: 10 },
      ),
      fc.oneof(hostileBytes(txSeeds, 512), jsonBody),
      fc.boolean(),
    ),
    async run([type, body, wait]) {
      const headers: Record<string, string> = {};
      if (type !== undefined) headers['content-type'] = type;
      const res = await app.inject({
        method: 'POST',
        url: wait ? '/v1/transactions?wait=commit&timeoutMs=1' : '/v1/transactions',
        headers,
        payload: typeof body === 'string' ? body : Buffer.from(body),
      });
      return outcome(res, `POST ${type ?? '(no content-type)'}`);
    },
  };

  const hexish = (len: number) =>
    fc.oneof(
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: len, maxLength: len }),
      fc.string({ maxLength: len + 4 }),
    );
  const header = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const signedRead: FuzzTarget<{
    key?: string | undefined;
    timestamp?: string | undefined;
    nonce?: string | undefined;
    purpose?: string | undefined;
    signature?: string | undefined;
    path: string;
  }> = {
    name: 'http/signed read headers',
    weight: 0.2,
    arbitrary: fc.record({
      key: header(fc.oneof(hexish(64), fc.constant(toHex(patient.publicKey)))),
      timestamp: header(
        fc.oneof(
          fc.constant(String(Date.now())),
          fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }).map(String),
          fc.string({ maxLength: 20 }),
        ),
      ),
      nonce: header(hexish(32)),
      purpose: header(
        fc.oneof(fc.constantFrom('1', '2', '3', '0', '4', '-1', '1.5'), fc.string({ maxLength: 4 })),
      ),
      signature: header(hexish(128)),
      path: fc.oneof(
        fc.constantFrom(
          `/v1/patients/${toHex(patient.publicKey)}/readings?kind=1`,
          `/v1/patients/${toHex(patient.publicKey)}/alerts`,
          `/v1/patients/${toHex(patient.publicKey)}/consents`,
          '/v1/me/patients',
          '/v1/patients/zz/readings?kind=1',
          `/v1/patients/${toHex(patient.publicKey)}/readings?kind=99999999999`,
        ),
        fc.string({ maxLength: 30 }).map((s) => `/v1/patients/${encodeURIComponent(s)}/readings?kind=1`),
      ),
    }),
    async run(r) {
      const headers: Record<string, string> = {};
      if (r.key !== undefined) headers['x-vigil-key'] = r.key;
      if (r.timestamp !== undefined) headers['x-vigil-timestamp'] = r.timestamp;
      if (r.nonce !== undefined) headers['x-vigil-nonce'] = r.nonce;
      if (r.purpose !== undefined) headers['x-vigil-purpose'] = r.purpose;
      if (r.signature !== undefined) headers['x-vigil-signature'] = r.signature;
      let res: Answer;
      try {
        res = await app.inject({ method: 'GET', url: r.path, headers });
      } catch (e) {
        // light-my-request refuses header values Node's http would refuse too: not the API's input.
        if ((e as { code?: string }).code === 'ERR_INVALID_CHAR') return 'client-refused';
        throw e;
      }
      if (res.statusCode < 400 && r.signature !== undefined)
        throw new FuzzFinding(`a random signature was accepted: ${JSON.stringify(r)}`);
      return outcome(res, `GET ${r.path}`);
    },
  };

  // Reads that pass authentication (a registered patient signs each request), so the route and query
  // parsers behind it see the hostile part: random query strings on every signed route, FHIR included.
  const registered = await app.inject({
    method: 'POST',
    url: '/v1/transactions?wait=commit&timeoutMs=20000',
    headers: { 'content-type': 'application/cbor' },
    payload: Buffer.from(txSeeds[0]!),
  });
  if (registered.statusCode !== 200) throw new FuzzFinding(`setup: registration ${registered.body}`);
  const P = toHex(patient.publicKey);
  const queryValue = fc.oneof(
    fc.integer({ min: -5, max: 2 ** 53 }).map(String),
    fc.constantFrom('', '0', '-1', '1e309', 'NaN', '9'.repeat(30), P, 'true', '%00', 'a,b', 'ge2020-01-01'),
    fc.string({ maxLength: 24 }),
  );
  const query = fc
    .array(
      fc.tuple(
        fc.constantFrom(
          'kind',
          'from',
          'to',
          'limit',
          'cursor',
          'open',
          'fromHeight',
          'patient',
          'code',
          'date',
          '_count',
          '_page',
          'target',
          'x',
        ),
        queryValue,
      ),
      { maxLength: 5 },
    )
    .map((kv) => kv.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&'));
  const signedQuery: FuzzTarget<[string, string]> = {
    name: 'http/signed reads, hostile queries',
    weight: 0.2,
    arbitrary: fc.tuple(
      fc.constantFrom(
        `/v1/patients/${P}/readings`,
        `/v1/patients/${P}/alerts`,
        `/v1/patients/${P}/news2`,
        `/v1/patients/${P}/consents`,
        `/v1/patients/${P}/audit`,
        '/v1/me/patients',
        '/fhir/Observation',
        '/fhir/Consent',
        '/fhir/AuditEvent',
        '/fhir/Provenance',
      ),
      query,
    ),
    async run([path, q]) {
      // Sign the target as it goes on the wire: the WHATWG URL parser (fetch, and inject) percent-encodes
      // some characters (e.g. ' in a query), and the signature covers the raw request line.
      const url = new URL(q === '' ? path : `${path}?${q}`, 'http://vigil.invalid');
      const target = url.pathname + url.search;
      const headers = signRequest({ chainId, signer: patient, method: 'GET', target, purpose: 1 });
      const res = await app.inject({ method: 'GET', url: target, headers });
      if (res.statusCode === 401)
        throw new FuzzFinding(`a correctly signed request was refused: ${res.body}`);
      return outcome(res, `GET ${target}`);
    },
  };

  // Unsigned routes (chain, transactions, accounts, proofs, ops) with hostile path parameters and queries.
  const param = fc.oneof(
    queryValue,
    fc.constantFrom(
      '1',
      '0',
      '1e309',
      '-0',
      '0x10',
      '1.5',
      '999999999999999999999',
      P,
      'zz'.repeat(32),
      '%2e%2e',
    ),
  );
  const publicRead: FuzzTarget<[string, string, string]> = {
    name: 'http/public reads, hostile params',
    weight: 0.2,
    arbitrary: fc.tuple(
      fc.constantFrom(
        '/v1/blocks/',
        '/v1/blocks?from=',
        '/v1/blocks?limit=',
        '/v1/transactions/',
        '/v1/transactions/{}/proof',
        '/v1/accounts/',
        '/v1/proofs/',
        '/v1/status?',
        '/metrics?',
        '/fhir/metadata?',
      ),
      param,
      query,
    ),
    async run([route, value, q]) {
      const v = encodeURIComponent(value);
      const path = route.includes('{}') ? route.replace('{}', v) : route + v;
      const res = await app.inject({
        method: 'GET',
        url: q === '' ? path : `${path}${path.includes('?') ? '&' : '?'}${q}`,
      });
      return outcome(res, `GET ${path}`);
    },
  };

  return {
    targets: [erase(submit), erase(signedRead), erase(signedQuery), erase(publicRead)],
    close: () => node.close(),
  };
}
