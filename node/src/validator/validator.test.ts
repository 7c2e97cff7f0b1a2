import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeStateProof, verifyStateProof } from '@vigil/consensus/proof';
import {
  decodeBlockHeader,
  decodeCommitCertificate,
  encodeTransaction,
  referenceVerifier,
  signerFromSeed,
  sha256,
  transactionId,
} from '@vigil/consensus/wire';
import { FaultLayer } from '@vigil/p2p';
import pino from 'pino';
import t, { type Test } from 'tap';
import { eventually, freePorts } from '../testing/ports.ts';
import { selfRegistration } from '../testing/registration.ts';
import type { ConsensusParams } from './genesis-file.ts';
import { createNetworkHomes } from './network-homes.ts';
import { ApiMetrics } from '../api/metrics.ts';
import { buildApi } from '../api/server.ts';
import { signRequest } from '../api/signed-request-client.ts';
import { Keys } from '../state-machine/keys.ts';
import { Validator } from './validator.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Four validators on loopback, meshed; stopped and removed at the end of the test. */
async function startFour(t: Test, seedLabel: string): Promise<Validator[]> {
  return (await startNetwork(t, seedLabel, {})).validators;
}

/** startFour with its homes (to restart a validator) and optional consensus parameters. */
async function startNetwork(
  t: Test,
  seedLabel: string,
  o: {
    fault?: FaultLayer;
    consensus?: Partial<ConsensusParams>;
    /** Per validator index: how long it waits on a quiet chain before citing its state (ADR 0125). */
    citeQuietMs?: (index: number) => number;
  },
): Promise<{ validators: Validator[]; homes: string[]; log: pino.Logger }> {
  const dir = mkdtempSync(join(tmpdir(), `vigil-${seedLabel}-`));
  const validators: Validator[] = [];
  t.teardown(async () => {
    await Promise.all(validators.map((v) => v.stop()));
    rmSync(dir, { recursive: true, force: true });
  });
  const net = createNetworkHomes({
    dir,
    validators: 4,
    chainId: 'vigil-it',
    p2pPorts: await freePorts(4),
    apiBasePort: 0,
    seedLabel,
    ...(o.consensus ? { consensus: o.consensus } : {}),
  });
  const log = pino({ level: 'silent' });
  for (const [i, home] of net.homes.entries())
    validators.push(
      await Validator.start({
        home,
        log,
        tickMs: 20,
        ...(o.fault ? { fault: o.fault } : {}),
        ...(o.citeQuietMs ? { citeQuietMs: o.citeQuietMs(i) } : {}),
      }),
    );
  // Submitting before the mesh is up also works (re-gossip on connect, view changes), just slower.
  await eventually(
    () => validators.every((v) => v.network.peers().filter((p) => p.connected).length === 3),
    10_000,
  );
  return { validators, homes: net.homes, log };
}

/** A patient's self-registration (nonce 1) on this test's chain, signed by a key derived from `label`. */
function registration(label: string, timestamp: number) {
  return selfRegistration('vigil-it', label, timestamp);
}

t.test('four in-process validators over libp2p commit transactions to identical state', async (t) => {
  const validators = await startFour(t, 'it');
  const now = Date.now();
  const ids: Uint8Array[] = [];
  for (let i = 0; i < 12; i++) {
    const tx = registration(`patient-${i}`, now);
    ids.push(transactionId(tx));
    await validators[i % 4]!.submit(encodeTransaction(tx));
  }
  const allCommitted = await eventually(async () => {
    for (const v of validators) for (const id of ids) if (!(await v.store.txs.has(id))) return false;
    return true;
  }, 20_000);
  t.ok(allCommitted, 'every transaction committed on every validator');
  const height = Math.min(...validators.map((v) => v.store.requireHead().height));
  t.ok(height >= 1);
  await eventually(() => validators.every((v) => v.store.requireHead().height === height), 5_000);
  const roots = validators.map((v) => hex(v.store.requireHead().stateRoot));
  t.equal(new Set(roots).size, 1, 'same state root everywhere');
  const receipt = await validators[2]!.store.txs.get(ids[0]!);
  t.match(receipt, { receipt: { status: 'accepted' } }, 'the registration was accepted by the state machine');

  // Each validator gossiped the 3 it was given to the 3 others: every copy is counted, and each is
  // either admitted or refused with its code (a copy that arrives after the proposal carrying it).
  for (const v of validators) {
    t.ok(
      v.gossip.received >= 9,
      `validator ${v.index} received ${v.gossip.received} gossip copies ${JSON.stringify(v.gossip)}`,
    );
    t.ok(
      await eventually(
        () =>
          v.gossip.admitted + Object.values(v.gossip.refused).reduce((a, n) => a + n, 0) ===
          v.gossip.received,
        5_000,
      ),
      'every gossip copy has an outcome',
    );
  }
  const text = await new ApiMetrics(validators[1]!).registry.metrics();
  t.match(text, /vigil_p2p_messages_total\{protocol="consensus",direction="out"\} [1-9]/);
  t.match(text, /vigil_p2p_bytes_total\{protocol="txgossip",direction="in"\} [1-9]/);
  t.match(
    text,
    new RegExp(`vigil_tx_gossip_received_total\\{result="admitted"\\} ${validators[1]!.gossip.admitted}\n`),
  );
  t.match(text, /vigil_tx_reoffered_total \d+/);
  t.match(text, /vigil_p2p_dropped_total\{reason="queue-full"\} 0/);
  // The PBFT core's own counters (the network is idle here: nothing changes between the two reads).
  const pbft = validators[1]!.replica.stats();
  t.match(text, new RegExp(`vigil_pbft_events_total\\{event="blocksCommitted"\\} ${pbft.blocksCommitted}\n`));
  t.match(text, /vigil_pbft_events_total\{event="laterViewsJoined"\} 0\n/);
  t.match(text, /# TYPE vigil_pbft_dropped_total counter/);
  t.match(text, /vigil_effects_writes_lost_total 0\n/);
  for (const [reason, n] of Object.entries(pbft.dropped))
    t.match(text, new RegExp(`vigil_pbft_dropped_total\\{reason="${reason}"\\} ${n}\n`));
});

t.test(
  'a transaction whose gossip copy never reached the primary is re-offered to it, in the same view',
  async (t) => {
    const fault = new FaultLayer();
    // The re-offer comes after half a request timeout; a 3 s timer (1 s by default) gives it a margin
    // that a loaded test machine cannot eat (the full suite runs files in parallel on 2 cores).
    const { validators } = await startNetwork(t, 'reoffer', {
      fault,
      consensus: { viewChangeTimeoutMs: 3_000 },
    });
    const [primary, entry] = [validators[0]!, validators[1]!];
    t.equal(primary.replica.isPrimary, true);
    // Everything validator 1 sends to the primary is lost; it has no other way to the primary, and
    // transactions are not relayed: only a re-offer by a backup holding it, or a view change, helps.
    fault.cut(entry.network.key, primary.network.key);
    const tx = registration('reoffer-patient', Date.now());
    const id = transactionId(tx);
    await entry.submit(encodeTransaction(tx));
    t.ok(await eventually(() => primary.store.txs.has(id), 10_000), 'committed');
    t.same(
      validators.map((v) => v.replica.view),
      [0, 0, 0, 0],
      'no view change: the re-offer came before the request timers',
    );
    t.ok(primary.gossip.admitted >= 1, 'the primary admitted a gossip copy');
    t.ok(
      validators[2]!.gossip.reoffered + validators[3]!.gossip.reoffered >= 1,
      'from a backup that re-offered it',
    );
    t.equal(validators[2]!.gossip.refused.DUPLICATE_TX ?? 0, 0, 're-offers go to the primary alone');
  },
);

t.test(
  'ADR 0128: a primary that never cites a quiet chain state is replaced, and the next primary cites it',
  async (t) => {
    // Validator 0, view 0's primary, would wait an hour before citing (as if it crashed or stayed
    // silent in the quiet period); the others cite after 150 ms and, as backups, expect it after 300 ms.
    const { validators } = await startNetwork(t, 'quiet-primary', {
      citeQuietMs: (i) => (i === 0 ? 3_600_000 : 150),
    });
    t.equal(validators[0]!.replica.isPrimary, true);
    const tx = registration('quiet-primary-patient', Date.now());
    const id = transactionId(tx);
    await validators[1]!.submit(encodeTransaction(tx));
    t.ok(
      await eventually(
        async () => (await Promise.all(validators.map((v) => v.store.txs.has(id)))).every(Boolean),
        20_000,
      ),
      'committed',
    );
    const located = await validators[1]!.store.txs.get(id);
    const txHeight = located!.height;
    const citing = async (v: Validator): Promise<boolean> => {
      for (let h = txHeight + 1; h <= v.store.requireHead().height; h++)
        if ((await v.store.blocks.block(h))!.header.stateHeight >= txHeight) return true;
      return false;
    };
    t.ok(
      await eventually(async () => {
        for (const v of validators) if (!(await citing(v))) return false;
        return true;
      }, 30_000),
      'a committed header cites the state after the transaction, on every validator',
    );
    t.ok(
      validators.every((v) => v.replica.view >= 1),
      `the silent primary was replaced (views ${validators.map((v) => v.replica.view)})`,
    );
    t.ok(
      validators.slice(1).some((v) => v.replica.stats().suspicionsSent >= 1),
      'by backups whose request timer ran out while they expected the citation',
    );
  },
);

t.test(
  'a restarted validator catches up in certified ranges and still serves a verifiable state proof',
  async (t) => {
    // A small window, so that 20 missed blocks are a gap for state transfer (block sync), not FETCH.
    const { validators, homes, log } = await startNetwork(t, 'range-sync', {
      consensus: { checkpointInterval: 4, windowSize: 8 },
    });
    // Validator 3 goes down; the other three (a quorum) commit one block per transaction.
    const down = validators.pop()!;
    await down.stop();
    const primary = validators[0]!;
    let last = registration('range-sync-0', Date.now());
    for (let i = 0; i < 20; i++) {
      last = registration(`range-sync-${i}`, Date.now());
      await primary.submit(encodeTransaction(last));
      const id = transactionId(last);
      t.ok(await eventually(() => primary.store.txs.has(id), 10_000), `transaction ${i} committed`);
    }
    const target = primary.store.requireHead().height;
    t.ok(target >= 20, `${target} blocks to catch up on`);

    const back = await Validator.start({ home: homes[3]!, log, tickMs: 20 });
    validators.push(back);
    t.ok(await eventually(() => back.store.requireHead().height >= target, 20_000), 'caught up');
    t.same(
      back.store.requireHead().stateRoot,
      (await primary.store.blocks.stateRootAt(back.store.requireHead().height)) ??
        primary.store.requireHead().stateRoot,
      'the same state root as the validators that applied the blocks one by one',
    );
    let interior = 0;
    for (let h = 1; h < back.store.requireHead().height; h++) {
      if ((await back.store.blocks.rangeEndOf(h)) !== undefined) interior++;
    }
    t.ok(interior > 0, `${interior} heights were applied inside certified ranges`);
    const sync = back.syncStats();
    t.ok(
      sync.blocks > 1 && sync.transactions > 1 && sync.seconds > 0,
      `block sync counted its catch-up: ${JSON.stringify(sync)}`,
    );
    t.match(
      await new ApiMetrics(back).registry.metrics(),
      new RegExp(`vigil_sync_transactions_total ${sync.transactions}\n`),
    );
    // The devnet's genesis keeps effects records (ADR 0133): the peers sent them with the blocks, and
    // the gap's certified ranges were applied from them, not executed.
    const effects = back.effectsStats();
    t.ok(effects.blocks > 0, `blocks applied from peers' effects records: ${JSON.stringify(effects)}`);
    t.notOk(effects.skipped.root, 'no record was refused');
    t.match(
      await new ApiMetrics(back).registry.metrics(),
      new RegExp(`vigil_sync_effects_blocks_total ${effects.blocks}\n`),
    );

    // The proof route finds a block whose cited state this node materialised, and the proof verifies
    // against that block's header and certificate alone. When block sync applied the whole gap as one
    // range, the only states materialised are genesis and the range's end, and the newest blocks cite
    // states inside the range: one more block, applied live, cites the range's end.
    const more = registration('range-sync-more', Date.now());
    await primary.submit(encodeTransaction(more));
    t.ok(
      await eventually(() => back.store.txs.has(transactionId(more)), 10_000),
      'one more block applied by the restarted validator',
    );
    const app = await buildApi({ validator: back, rateLimit: false, defaultMetrics: false });
    t.teardown(() => app.close());
    // Registered in the first block: in every state a proof can be of.
    const patientSigner = signerFromSeed(sha256(new TextEncoder().encode('range-sync-0')));
    const key = Keys.patient(patientSigner.publicKey);
    // A patient's record is patient data: the proof is for the patient (and guardians), signed.
    const proofTarget = `/v1/proofs/${hex(key)}`;
    const chainId = back.store.requireHead().chainId;
    const res = await app.inject({
      url: proofTarget,
      headers: signRequest({
        chainId,
        signer: patientSigner,
        method: 'GET',
        target: proofTarget,
        purpose: 1,
      }),
    });
    t.equal(res.statusCode, 200, res.body);
    const sp = res.json();
    t.type(sp.value, 'string', `the patient record is there (proof of the state after ${sp.stateAsOf})`);
    t.same(
      verifyStateProof(
        decodeStateProof(Buffer.from(sp.proof, 'hex')),
        key,
        Buffer.from(sp.value, 'hex'),
        decodeBlockHeader(Buffer.from(sp.header, 'hex')),
        decodeCommitCertificate(Buffer.from(sp.certificate, 'hex')),
        back.validators,
        referenceVerifier,
      ),
      { stateHeight: sp.stateHeight },
    );
  },
);

t.test(
  'ADR 0121: a validator whose consensus records are lost observes, then votes again, on the same chain',
  async (t) => {
    const { validators, homes, log } = await startNetwork(t, 'lost-records', {
      consensus: { checkpointInterval: 4, windowSize: 8, maxClockSkewMs: 300 },
    });
    const primary = validators[0]!;
    let n = 0;
    const commitOne = async () => {
      const tx = registration(`lost-records-${n++}`, Date.now());
      await primary.submit(encodeTransaction(tx));
      return eventually(() => primary.store.txs.has(transactionId(tx)), 10_000);
    };
    for (let i = 0; i < 4; i++) t.ok(await commitOne(), `transaction ${i} committed`);
    const lost = validators.pop()!;
    await lost.stop();
    // The chain is on disk; the PBFT records (fsynced before every vote) are gone.
    rmSync(join(homes[3]!, 'data', 'consensus'), { recursive: true, force: true });
    const back = await Validator.start({ home: homes[3]!, log, tickMs: 20 });
    validators.push(back);
    t.equal(back.status().recoveringUntil, null, 'it starts recovering: not a voter, the end not yet known');
    t.equal(back.status().validatorIndex, -1);
    const app = await buildApi({ validator: back, rateLimit: false, defaultMetrics: false });
    t.teardown(() => app.close());
    const status = (await app.inject('/v1/status')).json();
    t.equal(status.recoveringUntil, null, '/v1/status shows the recovery');
    t.same(
      status.validators.map((v: { self: boolean }) => v.self),
      [false, false, false, true],
      'and still names this node in the set',
    );
    // The other three, a quorum, commit meanwhile (the core's tests check that it casts no vote).
    let ended = false;
    let committed = 0;
    for (let i = 0; i < 200 && !ended; i++) {
      if (await commitOne()) committed++;
      ended = back.status().recoveringUntil === undefined;
    }
    t.ok(ended, `recovery ended once a late enough checkpoint was stable, one window on (${committed} txs)`);
    t.equal(back.status().validatorIndex, 3, 'a voting member again');
    t.ok(await commitOne(), 'the network goes on');
    t.ok(
      await eventually(() => back.store.requireHead().height === primary.store.requireHead().height, 10_000),
      'it is at the head',
    );
    t.same(back.store.requireHead().stateRoot, primary.store.requireHead().stateRoot, 'with the same state');
  },
);
