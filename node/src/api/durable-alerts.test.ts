// ADR 0130 against a live in-process validator that is stopped and started again: a signed subscriber
// that comes back after the node RESTARTED is sent the alerts it missed, with no gap; each replayed alert
// is decided now (a grant revoked since withholds it) and recorded in the patient's audit trail like a
// live one; "grants to me" (GET /v1/me/patients) lists who gives the caller access, with its access
// checks and hostile inputs; and a database written before the indexes existed adopts them at startup:
// its grants are found, and its older alerts are reported as a gap, precisely.
import { toHex } from '@vigil/consensus/wire';
import t from 'tap';
import { makeKey, prefixEnd } from '../state-machine/keys.ts';
import { SCHEMA_VERSION } from '../store/chain-store.ts';
import { openDb } from '../store/db.ts';
import { keys } from '../store/keys.ts';
import { encodeUint } from '../store/records.ts';
import { eventually } from '../testing/ports.ts';
import { homePaths } from '../validator/home.ts';
import { signRequest } from './signed-request-client.ts';
import { Actor, startTestNode } from './testing/node.ts';

const node = await startTestNode();
t.teardown(() => node.close());
const { chainId } = node;

async function commit(bytes: Uint8Array): Promise<string> {
  const r = await node.app.inject({
    method: 'POST',
    url: '/v1/transactions?wait=commit&timeoutMs=20000',
    headers: { 'content-type': 'application/cbor' },
    payload: Buffer.from(bytes),
  });
  if (r.statusCode !== 200 || r.json().status !== 'committed') throw new Error(`not committed: ${r.body}`);
  return r.json().id as string;
}

function signedGet(who: Actor, target: string) {
  const headers = signRequest({ chainId, signer: who.signer, method: 'GET', target });
  return node.app.inject({ method: 'GET', url: target, headers });
}

/** The current app, listening on a free loopback port (a restarted node's app is a new one). */
async function listen(): Promise<string> {
  if (!node.app.server.listening) await node.app.listen({ host: '127.0.0.1', port: 0 });
  const a = node.app.server.address();
  return `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
}

interface Ev {
  event: string;
  id?: string;
  data: Record<string, unknown>;
}

/** A signed event stream as `who`, resuming from `lastId` if given; its events as they arrive. */
async function stream(base: string, who: Actor, lastId?: string) {
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const headers: Record<string, string> = signRequest({
    chainId,
    signer: who.signer,
    method: 'GET',
    target: '/v1/events',
  });
  if (lastId !== undefined) headers['last-event-id'] = lastId;
  const res = await fetch(`${base}/v1/events`, { headers, signal: ac.signal });
  if (res.status !== 200) throw new Error(`events: ${res.status}`);
  const events: Ev[] = [];
  let text = '';
  void (async () => {
    try {
      for await (const chunk of res.body!) {
        text += new TextDecoder().decode(chunk as Uint8Array);
        let end = text.indexOf('\n\n');
        while (end >= 0) {
          const lines = text.slice(0, end).split('\n');
          text = text.slice(end + 2);
          const field = (name: string) =>
            lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
          const data = field('data');
          if (data !== undefined)
            events.push({ event: field('event') ?? 'message', id: field('id'), data: JSON.parse(data) });
          end = text.indexOf('\n\n');
        }
      }
    } catch {
      // aborted
    }
  })();
  return { events, close: () => ac.abort() };
}

// ---- the cast: two clinicians granted access, a patient and their wearable ----
const kept = new Actor('durable-clinician-1', chainId);
const revoked = new Actor('durable-clinician-2', chainId);
const stranger = new Actor('durable-stranger', chainId);
const patient = new Actor('durable-patient', chainId);
const device = new Actor('durable-device', chainId);
const P = toHex(patient.key);
const grantIds = new Map<Actor, string>();

const reading = (kind: number, value: number, unit: string) =>
  device.bytes({
    type: 50,
    patient: patient.key,
    readings: [{ kind, value, unit, measuredAt: Date.now() - 100 }],
  });

t.before(async () => {
  await commit(node.admin.bytes({ type: 10, publicKey: kept.key, licenceId: 'GMC-D1' }));
  await commit(node.admin.bytes({ type: 10, publicKey: revoked.key, licenceId: 'GMC-D2' }));
  await commit(patient.bytes({ type: 20, patient: patient.key }));
  const now = Date.now();
  await commit(
    patient.bytes({
      type: 30,
      device: device.key,
      patient: patient.key,
      validFrom: now - 60_000,
      validUntil: now + 86_400_000,
    }),
  );
  for (const c of [kept, revoked]) {
    const id = await commit(
      patient.bytes({
        type: 40,
        patient: patient.key,
        grantee: { kind: 1, key: c.key },
        scopes: ['vitals.*', 'alerts'],
        purpose: 1,
        expiresAt: now + 86_400_000,
      }),
    );
    grantIds.set(c, id);
  }
});

t.test('a subscriber back after a node restart gets the alerts it missed, with no gap', async (t) => {
  let base = await listen();
  const first = await stream(base, kept);
  t.ok(await eventually(() => first.events.some((e) => e.event === 'open'), 10_000));
  const lastId = first.events.find((e) => e.event === 'open')!.id!;
  first.close();
  // While the clinician is away, the wearable reports a respiratory rate above its threshold; then the
  // node restarts: nothing it held in memory survives.
  await commit(reading(6, 30, '/min'));
  const raisedAt = node.validator.store.requireHead().height;
  await node.restart();
  base = await listen();
  const back = await stream(base, kept, lastId);
  const rr = () =>
    back.events.find((e) => e.event === 'alert' && e.data.cause === 'threshold.high.respiratoryRate');
  t.ok(await eventually(() => rr() !== undefined, 10_000), 'the missed alert arrived');
  t.match(rr()!.data, { patient: P, height: raisedAt, kind: 6, value: 30, seq: Number });
  t.same(
    back.events.filter((e) => e.event === 'gap'),
    [],
    'no gap: the alert index survived the restart',
  );
  // Sent again means read again: the patient's audit trail records the clinician's read of alerts.
  const auditRead = async () => {
    const r = await signedGet(patient, `/v1/patients/${P}/audit?limit=1000`);
    return (r.json().items as { event: string; actor: string; categories: string[] }[]).some(
      (i) => i.event === 'read' && i.actor === toHex(kept.key) && i.categories.includes('alerts'),
    );
  };
  t.ok(await eventually(auditRead, 20_000), 'the replayed alert is in the audit trail');
  back.close();
});

t.test('access is decided at replay: a grant revoked since the alert withholds it', async (t) => {
  const url = await listen();
  const from = String(node.validator.store.requireHead().height + 1);
  await commit(reading(2, 85, '%'));
  // The second clinician's grant is revoked after the alert was raised, before they come back.
  await commit(
    patient.bytes({ type: 41, patient: patient.key, grantId: Buffer.from(grantIds.get(revoked)!, 'hex') }),
  );
  const a = await stream(url, kept, from);
  const b = await stream(url, revoked, from);
  // A later block: each stream's replay comes before its event.
  const marker = await commit(
    node.admin.bytes({ type: 10, publicKey: new Actor('durable-marker', chainId).key, licenceId: 'M' }),
  );
  const sawMarker = (s: { events: Ev[] }) =>
    s.events.some((e) => e.event === 'block' && (e.data.txIds as string[]).includes(marker));
  t.ok(await eventually(() => sawMarker(a) && sawMarker(b), 10_000));
  const spo2 = (s: { events: Ev[] }) =>
    s.events.filter((e) => e.event === 'alert' && e.data.cause === 'threshold.low.spo2');
  t.equal(spo2(a).length, 1, 'the clinician still granted gets it');
  t.same(spo2(b), [], 'the one whose grant was revoked does not');
  t.same(
    b.events.filter((e) => e.event === 'alert'),
    [],
    'nor any other alert of the patient',
  );
  a.close();
  b.close();
});

t.test('GET /v1/me/patients: grants to me, signed, about the caller only', async (t) => {
  const unsigned = await node.app.inject('/v1/me/patients');
  t.same([unsigned.statusCode, unsigned.json().code], [401, 'UNAUTHENTICATED']);
  const mine = await signedGet(kept, '/v1/me/patients');
  t.equal(mine.statusCode, 200, mine.body);
  t.match(mine.json(), {
    items: [
      {
        patient: P,
        via: 'grant',
        grantId: grantIds.get(kept),
        grantee: { kind: 1, key: toHex(kept.key) },
        scopes: ['vitals.*', 'alerts'],
        purpose: 1,
        expiresAt: Number,
        grantedBy: P,
      },
    ],
    next: null,
  });
  t.same((await signedGet(revoked, '/v1/me/patients')).json(), { items: [], next: null }, 'revoked: none');
  t.same(
    (await signedGet(stranger, '/v1/me/patients')).json(),
    { items: [], next: null },
    'unknown key: none',
  );
  // A second grant (alerts only), then pages of one.
  await commit(
    patient.bytes({
      type: 40,
      patient: patient.key,
      grantee: { kind: 1, key: kept.key },
      scopes: ['alerts'],
      purpose: 1,
      expiresAt: Date.now() + 3_600_000,
    }),
  );
  const p1 = (await signedGet(kept, '/v1/me/patients?limit=1')).json();
  t.equal(p1.items.length, 1);
  t.type(p1.next, 'string');
  const p2 = (await signedGet(kept, `/v1/me/patients?limit=1&cursor=${p1.next}`)).json();
  t.equal(p2.items.length, 1);
  t.equal(p2.next, null);
  t.same(p1.items[0].scopes, ['alerts'], 'the grant that expires first comes first');
  // Hostile input: typed 400s, and another caller's cursor does not read the grants it points at.
  for (const [q, who, code] of [
    ['limit=0', kept, 'INVALID_REQUEST'],
    ['limit=1001', kept, 'INVALID_REQUEST'],
    ['limit=x', kept, 'INVALID_REQUEST'],
    ['other=1', kept, 'INVALID_REQUEST'],
    [`cursor=${'0'.repeat(1025)}`, kept, 'INVALID_REQUEST'],
    ['cursor=zz', kept, 'BAD_CURSOR'],
    ['cursor=abc', kept, 'BAD_CURSOR'],
    // The clinician's own cursor, used by someone else.
    [`cursor=${p1.next}`, stranger, 'BAD_CURSOR'],
  ] as const) {
    const r = await signedGet(who, `/v1/me/patients?${q}`);
    t.same([r.statusCode, r.json().code], [400, code], q.slice(0, 40));
  }
  const forged = await node.app.inject({
    url: '/v1/me/patients',
    headers: {
      ...signRequest({ chainId, signer: stranger.signer, method: 'GET', target: '/v1/me/patients' }),
      'x-vigil-key': toHex(kept.key),
    },
  });
  t.same(
    [forged.statusCode, forged.json().code],
    [401, 'BAD_REQUEST_SIGNATURE'],
    'a stranger signing as the clinician',
  );
});

t.test(
  'a database from before the indexes adopts them at startup: grants found, older alerts a gap',
  async (t) => {
    const head = node.validator.store.requireHead().height;
    // What a node of the previous version left: no access or alert index, no indexedFrom, schema 6 (the
    // test network's chain has receipts roots, ADR 0123).
    await node.restart(async () => {
      const db = await openDb(homePaths(node.home).chainDb);
      for (const tag of ['access', 'raised']) {
        const p = keys.index(makeKey(tag));
        await db.clear({ gte: p, lt: prefixEnd(p) });
      }
      await db.del(keys.meta('indexedFrom'));
      // Schema 6 had no effects records either (ADR 0133): this single-validator chain goes on without.
      await db.del(keys.meta('blockEffects'));
      await db.put(keys.meta('schemaVersion'), encodeUint(6));
      await db.close();
    });
    const store = node.validator.store;
    t.ok(store.indexedFrom !== undefined && store.indexedFrom > head, `indexed from ${store.indexedFrom}`);
    t.equal(await store.meta.schemaVersion(), SCHEMA_VERSION, 'upgraded to schema 7');
    const mine = (await signedGet(kept, '/v1/me/patients')).json();
    t.same(
      mine.items.map((i: { patient: string; via: string }) => [i.patient, i.via]),
      [
        [P, 'grant'],
        [P, 'grant'],
      ],
      'the grants made before the upgrade are found (derived from the state)',
    );
    const base = await listen();
    const s = await stream(base, kept, '1');
    t.ok(await eventually(() => s.events.some((e) => e.event === 'gap'), 10_000));
    t.same(
      s.events.find((e) => e.event === 'gap')!.data,
      { from: 1, heldFrom: store.indexedFrom, reason: 'notIndexed' },
      'the alerts raised before the upgrade may be missing: said, with where the index starts',
    );
    // Alerts raised from then on are replayed as on any chain.
    const from = String(store.requireHead().height + 1);
    await commit(reading(1, 150, '/min'));
    const again = await stream(base, kept, from);
    t.ok(
      await eventually(
        () => again.events.some((e) => e.event === 'alert' && e.data.cause === 'threshold.high.heartRate'),
        10_000,
      ),
    );
    t.same(
      again.events.filter((e) => e.event === 'gap'),
      [],
    );
    s.close();
    again.close();
  },
);
