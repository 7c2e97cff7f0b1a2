// One Byzantine validator (f = 1 of n = 4) against three honest validator processes on loopback. The
// attacker holds validator 0's real key (node 0's process never runs), so it is the primary of view 0
// and a backup afterwards. It equivocates as primary, then sends forged signatures, messages for
// future views and far-away heights, a replay flood, and oversized and malformed frames. The honest
// three must stay safe (identical blocks and state roots at every height), stay live (transactions
// submitted after each attack commit), and count every bad message under its drop reason, which
// GET /v1/status exposes (consensus.dropped, p2p.invalidFrames / connections).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeTransaction,
  fromHex,
  sha256,
  signerFromSeed,
  signTransaction,
  TxType,
  toHex,
  transactionId,
} from '@vigil/consensus/wire';
import { encodeBody } from '@vigil/consensus/wire/bodies/index.ts';
import { loadKeyFile } from '@vigil/sensor-client/sdk/keyfile.ts';
import t from 'tap';
import { eventually, freePorts } from '../testing/ports.ts';
import { ProcessNetwork, type ValidatorProcess } from '../testing/process-network.ts';
import { homePaths } from '../validator/home.ts';
import { createNetworkHomes } from '../validator/network-homes.ts';
import {
  badVersionFrame,
  buildBlock,
  MaliciousPeer,
  oversizedFramePrefix,
  truncatedBatchFrame,
} from './malicious-peer.ts';

const CHAIN = 'vigil-byzantine';
const WINDOW = 32;

interface SecurityStatus {
  height: number;
  view: number;
  stateRoot: string;
  headHash: string;
  consensus: { dropped: Record<string, number> };
  p2p: {
    invalidFrames: Record<string, number>;
    connections: { disconnectedForInvalidFrames: number; bans: number; refusedBanned: number };
  };
}

async function status(n: ValidatorProcess): Promise<SecurityStatus | undefined> {
  return (await n.status()) as unknown as SecurityStatus | undefined;
}

let patientSeq = 0;
function registration(): { id: string; bytes: Uint8Array } {
  const patient = signerFromSeed(sha256(new TextEncoder().encode(`byz-patient-${patientSeq++}`)));
  const tx = signTransaction(
    {
      version: 1,
      chainId: CHAIN,
      type: TxType.registerPatient,
      sender: patient.publicKey,
      nonce: 1,
      timestamp: Date.now(),
      body: encodeBody({ type: 20, patient: patient.publicKey }),
    },
    patient,
  );
  return { id: toHex(transactionId(tx)), bytes: encodeTransaction(tx) };
}

async function committedOn(apiUrl: string, id: string): Promise<boolean> {
  try {
    const res = await fetch(`${apiUrl}/v1/transactions/${id}`, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return false;
    return ((await res.json()) as { status: string }).status === 'committed';
  } catch {
    return false;
  }
}

async function blockHashAt(apiUrl: string, height: number): Promise<string | undefined> {
  const res = await fetch(`${apiUrl}/v1/blocks/${height}`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) return undefined;
  return ((await res.json()) as { hash: string }).hash;
}

const dropped = (s: SecurityStatus | undefined, reason: string) => s?.consensus.dropped[reason] ?? 0;

t.test('one Byzantine validator of four: safety, liveness, and every bad message counted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-byz-'));
  const ports = await freePorts(8);
  const homes = createNetworkHomes({
    dir,
    validators: 4,
    chainId: CHAIN,
    p2pPorts: ports.slice(0, 4),
    apiPorts: ports.slice(4),
    seedLabel: 'byzantine',
    consensus: { viewChangeTimeoutMs: 1_000, checkpointInterval: 8, windowSize: WINDOW },
  });
  const net = new ProcessNetwork(homes.homes);
  const honest = net.nodes.slice(1);
  let attacker: MaliciousPeer | undefined;
  t.teardown(async () => {
    await attacker?.stop().catch(() => undefined);
    await net.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const n of honest) n.start({ VIGIL_LOG_LEVEL: 'warn' });
  t.ok(await net.waitReady(90_000), 'the three honest APIs answer');
  t.ok(
    await eventually(
      async () =>
        (await net.statuses()).slice(1).every((s) => s?.peers.filter((p) => p.connected).length === 2),
      30_000,
    ),
    'the honest three are meshed',
  );
  const genesisRoot = fromHex((await status(honest[0]!))!.stateRoot);

  attacker = await MaliciousPeer.start({
    chainId: CHAIN,
    seed: loadKeyFile(homePaths(homes.homes[0]!).key).seed,
    self: 0,
    targets: [1, 2, 3].map((i) => ({
      index: i,
      publicKey: fromHex(homes.genesis.validators[i]!.publicKey),
      addr: `/ip4/127.0.0.1/tcp/${ports[i]}`,
    })),
  });
  const mal = attacker;
  for (const i of [1, 2, 3]) await mal.connect(i);
  t.ok(
    [1, 2, 3].every((i) => mal.connected(i)),
    'the gater admits the attacker: it holds a genesis key',
  );

  async function commitBatch(count: number, label: string): Promise<void> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const tx = registration();
      ids.push(tx.id);
      const res = await fetch(`${honest[i % honest.length]!.apiUrl}/v1/transactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/cbor' },
        body: new Uint8Array(tx.bytes),
      });
      await res.arrayBuffer();
      t.equal(res.status, 202, `${label}: admitted`);
    }
    const ok = await eventually(
      async () => {
        for (const n of honest) for (const id of ids) if (!(await committedOn(n.apiUrl, id))) return false;
        return true;
      },
      60_000,
      200,
    );
    t.ok(ok, `${label}: every transaction committed on every honest validator (liveness)`);
  }

  async function counted(reason: string, atLeast: number, label: string, nodes = honest): Promise<void> {
    let seen: number[] = [];
    const ok = await eventually(
      async () => {
        seen = await Promise.all(nodes.map(async (n) => dropped(await status(n), reason)));
        return seen.every((c) => c >= atLeast);
      },
      15_000,
      100,
    );
    t.ok(ok, `${label}: dropped as ${reason} on every target (${seen.join(', ')})`);
  }

  // ---- 1. Equivocation as the primary of view 0 ---------------------------------------------------
  // Two different valid blocks for height 1: A to validator 1, B to validators 2 and 3, then each the
  // other one. Every honest replica keeps the first and counts the second as EQUIVOCATION (§4.2).
  const spec = {
    chainId: CHAIN,
    height: 1,
    view: 0,
    prevHash: new Uint8Array(32),
    stateRoot: genesisRoot,
    stateHeight: 0,
    proposer: 0,
    timestamp: homes.genesis.genesisTime + 1,
  };
  const a = mal.prePrepare(0, buildBlock(spec));
  const b = mal.prePrepare(0, buildBlock({ ...spec, timestamp: spec.timestamp + 1 }));
  t.not(toHex(a.hash), toHex(b.hash), 'two different blocks for one height');
  await mal.send(1, [a.bytes]);
  await mal.send(2, [b.bytes]);
  await mal.send(3, [b.bytes]);
  await mal.send(1, [b.bytes]);
  await mal.send(2, [a.bytes]);
  await mal.send(3, [a.bytes]);
  await counted('EQUIVOCATION', 1, 'equivocating PRE-PREPAREs');
  // The faulty primary never finishes the view: the backups' timers elect validator 1 (view 1).
  await commitBatch(6, 'after equivocation');
  const afterEquivocation = (await status(honest[0]!))!;
  t.ok(
    afterEquivocation.view >= 1,
    `a view change replaced the equivocating primary (view ${afterEquivocation.view})`,
  );

  // ---- 2. Forged signatures --------------------------------------------------------------------------
  const cur = (await status(honest[0]!))!;
  const someHash = sha256(new TextEncoder().encode('no such block'));
  for (const i of [1, 2, 3]) {
    // Our own index (0) with another message's signature, and impersonations of other validators:
    // never the target itself (DUPLICATE) nor the current primary (its PREPAREs are MALFORMED).
    const claimed = [0, 1, 2, 3].filter((r) => r !== i && r !== cur.view % 4).slice(0, 2);
    await mal.send(
      i,
      claimed.map((r) => mal.forgedPrepare(cur.view, cur.height + 1, someHash, r)),
    );
  }
  await counted('BAD_SIGNATURE', 2, 'forged signatures');

  // ---- 3. Future views ---------------------------------------------------------------------------
  // Validly signed PREPAREs for a view far ahead: a replica buffers at most 3 x window per signer
  // (§4.5.2 lets it keep them), the rest is FUTURE_VIEW_OVERFLOW; buffered ones cannot form a quorum.
  // All different: an identical copy is buffered once (dropped as a duplicate, not an overflow).
  const future = Array.from({ length: 4 * WINDOW }, (_, k) =>
    mal.prepare(cur.view + 50, cur.height + 1 + k, someHash),
  );
  for (const i of [1, 2, 3]) await mal.send(i, future);
  await counted('FUTURE_VIEW_OVERFLOW', WINDOW, 'messages for a future view beyond the buffer');

  // ---- 4. Far-away sequence numbers and a replay flood ----------------------------------------------
  const far = mal.prepare(cur.view, 1_000_000_000, someHash);
  const floodCount = 20_000;
  for (const i of [1, 2, 3]) await mal.flood(i, far, floodCount);
  await counted('OUT_OF_WINDOW', floodCount, `${floodCount} replayed PREPAREs for height 10^9`);
  await commitBatch(6, 'after signatures, future views and the flood');

  // ---- 5. Bad frames: the stream is cut and the peer disconnected; twice in a row is a ban ---------
  const framesBefore = await Promise.all(honest.map(status));
  await mal.sendRaw(1, oversizedFramePrefix());
  await mal.sendRaw(2, badVersionFrame());
  await mal.sendRaw(3, truncatedBatchFrame());
  t.ok(
    await eventually(() => [1, 2, 3].every((i) => !mal.connected(i)), 10_000),
    'every validator cut the attacker off after one bad frame',
  );
  const framesAfter = await Promise.all(honest.map(status));
  for (let k = 0; k < 3; k++) {
    const before = framesBefore[k]!.p2p.connections.disconnectedForInvalidFrames;
    const after = framesAfter[k]!.p2p.connections.disconnectedForInvalidFrames;
    t.ok(
      after > before,
      `validator ${k + 1} counted an invalid frame (${JSON.stringify(framesAfter[k]!.p2p.invalidFrames)})`,
    );
  }

  // Validator 1 again: a second bad frame within the score half-life crosses the ban threshold.
  t.ok(
    await eventually(
      async () => {
        try {
          await mal.connect(1);
          return true;
        } catch {
          return false;
        }
      },
      10_000,
      300,
    ),
    'the attacker can reconnect after a first offence',
  );
  await mal.sendRaw(1, badVersionFrame());
  t.ok(
    await eventually(async () => ((await status(honest[0]!))?.p2p.connections.bans ?? 0) >= 1, 10_000),
    'banned',
  );
  // The ban aborts the attacker's connection; until its side has noticed, a dial would reuse that
  // dying connection and never reach the gater, so wait for it to go, then dial until refused.
  await eventually(async () => !mal.connected(1), 10_000);
  t.ok(
    await eventually(
      async () => {
        await mal.connect(1).catch(() => undefined);
        return ((await status(honest[0]!))?.p2p.connections.refusedBanned ?? 0) >= 1;
      },
      10_000,
      300,
    ),
    'a banned attacker is refused by the connection gater',
  );
  t.ok(await eventually(async () => !mal.connected(1), 10_000), 'and is not left connected');

  await commitBatch(6, 'after bad frames and a ban');

  // ---- Safety: the honest three agree on every block and the state root -------------------------
  const ok = await eventually(
    async () => {
      const s = await Promise.all(honest.map(status));
      return (
        s.every((x) => x !== undefined) && new Set(s.map((x) => `${x!.height}/${x!.stateRoot}`)).size === 1
      );
    },
    30_000,
    200,
  );
  t.ok(ok, 'same height and state root on the honest validators');
  const head = (await status(honest[0]!))!.height;
  let forks = 0;
  for (let h = 1; h <= head; h++) {
    const hashes = await Promise.all(honest.map((n) => blockHashAt(n.apiUrl, h)));
    if (hashes.some((x) => x === undefined) || new Set(hashes).size !== 1) forks++;
  }
  t.equal(forks, 0, `identical block hashes at all ${head} heights on the honest validators`);
  t.ok(mal.bytesReceived > 0, 'the honest validators treated the attacker as a peer (sent it traffic)');
});

// Negative control: the same tool with MORE than f keys. Validators 0 and 1 (2 > f = 1 of 4) collude:
// 0 proposes block A to validator 2 and block B to validator 3 at height 1, and both vouch for each
// block to the validator that got it. Each honest validator then sees a valid quorum (0, 1 and itself)
// and commits: the chain forks. The safety checks above are therefore able to fail; they pass only
// because at most f validators were Byzantine (PBFT's assumption, Castro & Liskov §2).
t.test('negative control: two colluding validators of four (> f) fork the chain', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-byz2-'));
  const ports = await freePorts(8);
  const homes = createNetworkHomes({
    dir,
    validators: 4,
    chainId: CHAIN,
    p2pPorts: ports.slice(0, 4),
    apiPorts: ports.slice(4),
    seedLabel: 'byzantine-2',
    consensus: { viewChangeTimeoutMs: 5_000, checkpointInterval: 8, windowSize: WINDOW },
  });
  const net = new ProcessNetwork(homes.homes);
  const honest = net.nodes.slice(2);
  const attackers: MaliciousPeer[] = [];
  t.teardown(async () => {
    for (const a of attackers) await a.stop().catch(() => undefined);
    await net.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const n of honest) n.start({ VIGIL_LOG_LEVEL: 'warn' });
  t.ok(await net.waitReady(90_000), 'the two honest APIs answer');
  const genesisRoot = fromHex((await status(honest[0]!))!.stateRoot);
  for (const self of [0, 1]) {
    const peer = await MaliciousPeer.start({
      chainId: CHAIN,
      seed: loadKeyFile(homePaths(homes.homes[self]!).key).seed,
      self,
      targets: [2, 3].map((i) => ({
        index: i,
        publicKey: fromHex(homes.genesis.validators[i]!.publicKey),
        addr: `/ip4/127.0.0.1/tcp/${ports[i]}`,
      })),
    });
    attackers.push(peer);
    for (const i of [2, 3]) await peer.connect(i);
  }
  const [p0, p1] = attackers as [MaliciousPeer, MaliciousPeer];
  const spec = {
    chainId: CHAIN,
    height: 1,
    view: 0,
    prevHash: new Uint8Array(32),
    stateRoot: genesisRoot,
    stateHeight: 0,
    proposer: 0,
    timestamp: homes.genesis.genesisTime + 1,
  };
  const blocks = [
    p0.prePrepare(0, buildBlock(spec)),
    p0.prePrepare(0, buildBlock({ ...spec, timestamp: spec.timestamp + 1 })),
  ];
  for (const [k, target] of [2, 3].entries()) {
    const blk = blocks[k]!;
    await p0.send(target, [blk.bytes, p0.commit(0, 1, blk.hash)]);
    await p1.send(target, [p1.prepare(0, 1, blk.hash), p1.commit(0, 1, blk.hash)]);
  }
  t.ok(
    await eventually(
      async () => (await Promise.all(honest.map(status))).every((s) => (s?.height ?? 0) >= 1),
      20_000,
    ),
    'both honest validators committed height 1',
  );
  const hashes = await Promise.all(honest.map((n) => blockHashAt(n.apiUrl, 1)));
  t.same(hashes, [toHex(blocks[0]!.hash), toHex(blocks[1]!.hash)], 'each committed the block it was shown');
  t.not(hashes[0], hashes[1], 'agreement is violated: two different blocks at height 1');
});
