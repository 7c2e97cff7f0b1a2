// The state machine on node-core's real BlockExecutor and LevelDB ChainStore: a clinical scenario is run
// on the test harness, then its blocks are replayed through the executor; receipts, events and query
// results must be the same. This checks the harness's emulation of the framework, and that the handlers
// and genesis plug into the real thing.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { encodeCanonical, encodeTransaction, referenceVerifier, toHex } from '@vigil/consensus/wire';
import { BlockExecutor, type CertifiedBlock } from '../exec/executor.ts';
import { certify, nextBlock } from '../exec/testing.ts';
import { ChainStore } from '../store/chain-store.ts';
import { inlineBatchVerifier } from '../verify-pool/types.ts';
import { genesisState } from './genesis.ts';
import { createHandlers } from './handlers/index.ts';
import { readAlerts, readAuditTrail, readReadings } from './query.ts';
import { chainStoreReadView } from './store-view.ts';
import { DAY, HOUR, World } from './testing/world.ts';

t.test('blocks from the harness give the same receipts, events and reads on the real executor', async (t) => {
  const w = await new World().populated();
  const P = w.patient.key;
  await w.grantClinician(['*']);
  await w.ok(w.device, {
    type: 50,
    patient: P,
    readings: [w.reading(1, 140, w.now + 1000), w.reading(6, 26, w.now + 1000)],
  });
  await w.run(w.device, { type: 50, patient: P, readings: [w.reading(1, 70, w.now - 10)] }); // not increasing
  await w.ok(w.clinician, { type: 61, patient: P, alertSeq: 1 });
  await w.ok(w.otherClinician, {
    type: 42,
    patient: P,
    reasonCode: 'ETREAT',
    reason: 'arrest',
    durationMs: HOUR,
  });
  await w.run(w.stranger, {
    type: 40,
    patient: P,
    grantee: { kind: 2, orgId: 'org-a' },
    scopes: ['*'],
    purpose: 1,
    expiresAt: w.now + DAY,
  });
  await w.ok(w.validators[0]!, {
    type: 52,
    reader: w.clinician.key,
    patient: P,
    categories: ['alerts'],
    purpose: 1,
    readAt: w.now,
  });
  // Two transactions in one block, the second a replay of the first.
  const tx = w.patient.tx({ type: 44, patient: P, optIn: true }, w.now);
  w.now += 1000;
  await w.h.applyBlock([tx, tx], w.now);
  // A researcher (the patient opted in above) reads a series of two heart rates.
  await w.ok(w.device, { type: 50, patient: P, readings: [w.reading(1, 75, w.now + 1000)] });
  await w.ok(w.patient, {
    type: 40,
    patient: P,
    grantee: { kind: 1, key: w.researcher.key },
    scopes: ['vitals.heartRate'],
    purpose: 2,
    expiresAt: w.now + DAY,
  });

  const dir = await mkdtemp(join(tmpdir(), 'vigil-sm-'));
  const store = await ChainStore.open(dir);
  t.teardown(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const signers = w.validators.map((v) => v.signer);
  await store.initChain({
    chainId: w.h.chainId,
    genesisTime: w.h.genesis.genesisTime,
    validators: signers.map((s) => s.publicKey),
    state: genesisState(w.h.genesis),
  });
  const exec = new BlockExecutor({
    store,
    handlers: createHandlers(),
    verifier: inlineBatchVerifier(referenceVerifier),
  });
  const harnessEvents: string[] = w.h.events.map(
    (e) => `${e.height}:${e.event.kind}:${toHex(encodeCanonical(e.event.data as never))}`,
  );
  const execEvents: string[] = [];
  for (const blk of w.h.blocks) {
    const block = nextBlock(store.requireHead(), blk.txs.map(encodeTransaction), blk.blockTime);
    const result = await exec.applyBlock(block, certify(w.h.chainId, block, signers));
    const got = result.receipts.map((r) => (r.status === 'accepted' ? 'ok' : r.code));
    const want = blk.receipts.map((r) => (r.ok ? 'ok' : r.code));
    t.same(got, want, `height ${result.height}`);
    for (const e of result.events) {
      execEvents.push(`${e.height}:${e.event.kind}:${toHex(encodeCanonical(e.event.data as never))}`);
    }
  }
  t.same(execEvents, harnessEvents, 'same events, same data, same heights');
  t.ok(harnessEvents.some((e) => e.includes(':alertRaised:')));

  // The index records (readings, audit, and ADR 0130's alert and access indexes), written in each
  // block's batch, are the harness's byte for byte; and the same again when the blocks are applied as
  // certified ranges (block sync, ADR 0115) and across a restart of the store in the middle.
  const indexOf = async (s: ChainStore) => {
    const out: [string, string][] = [];
    for await (const { key, value } of s.state.scanIndex(new Uint8Array(0)))
      out.push([toHex(key), toHex(value)]);
    return out;
  };
  const harnessIndex = w.h.index.dump();
  t.same(await indexOf(store), harnessIndex, 'the same index records, block by block');
  const tags = new Set(harnessIndex.map(([k]) => Buffer.from(k, 'hex').toString('latin1').split('/')[1]));
  t.ok(
    tags.has('raised') && tags.has('access'),
    `the alert and access indexes are among them (${[...tags]})`,
  );
  const dir2 = await mkdtemp(join(tmpdir(), 'vigil-sm-'));
  let synced = await ChainStore.open(dir2);
  t.teardown(async () => {
    await synced.close();
    await rm(dir2, { recursive: true, force: true });
  });
  await synced.initChain({
    chainId: w.h.chainId,
    genesisTime: w.h.genesis.genesisTime,
    validators: signers.map((s) => s.publicKey),
    state: genesisState(w.h.genesis),
  });
  const certified: CertifiedBlock[] = [];
  for (let h = 1; h <= store.requireHead().height; h++) {
    certified.push({
      block: (await store.blocks.block(h))!,
      certificate: (await store.blocks.certificate(h))!,
    });
  }
  const half = Math.floor(certified.length / 2);
  const syncPart = async (items: typeof certified) => {
    const e = new BlockExecutor({
      store: synced,
      handlers: createHandlers(),
      verifier: inlineBatchVerifier(referenceVerifier),
    });
    let rest = items;
    while (rest.length > 0) {
      const r = await e.applyCertifiedRange(rest, { maxBlocks: 3 });
      rest = rest.slice(r.blocks.length);
    }
  };
  await syncPart(certified.slice(0, half));
  await synced.close();
  synced = await ChainStore.open(dir2);
  await syncPart(certified.slice(half));
  t.same(await indexOf(synced), harnessIndex, 'the same index records, in certified ranges across a restart');

  const view = chainStoreReadView(store);
  const clin = { key: w.clinician.key, purpose: 1 };
  const q = { patient: P, kind: 1, from: 0, to: w.now + DAY };
  t.same(
    await readReadings(view, clin, q, w.now),
    await readReadings(w.h.view(), clin, q, w.now),
    'readings',
  );
  t.same(
    await readAlerts(view, clin, { patient: P }, w.now),
    await readAlerts(w.h.view(), clin, { patient: P }, w.now),
    'alerts',
  );
  // Research cursors: one page at a time, and a hostile count that, added to the page size, is 2^32 + 1
  // (LevelDB's iterator takes its limit as an int32: passed on, it would end the scan after one entry).
  const research = { key: w.researcher.key, purpose: 2 };
  const first = await readReadings(view, research, { ...q, limit: 1 }, w.now);
  t.same(first, await readReadings(w.h.view(), research, { ...q, limit: 1 }, w.now), 'research page');
  t.ok(first.next, 'a second page');
  const rest = { ...q, limit: 1, cursor: first.next };
  t.same(
    await readReadings(view, research, rest, w.now),
    await readReadings(w.h.view(), research, rest, w.now),
  );
  const at = first.items[0]!.measuredAt;
  const hostile = { ...q, cursor: `${at}.${2 ** 32 - 100}` };
  const got = await readReadings(view, research, hostile, w.now);
  t.same(got, await readReadings(w.h.view(), research, hostile, w.now), 'a huge count');
  t.same(
    got.items.map((r) => r.value),
    [75],
    'passes over the entries at that time only',
  );
  const self = { key: P, purpose: 1 };
  t.same(
    await readAuditTrail(view, self, { patient: P }),
    await readAuditTrail(w.h.view(), self, { patient: P }),
    'audit trail',
  );
});
