// Validator-set reconfiguration on real processes over loopback (issues 5 and 6, ADR 0015): four genesis
// validators and a fifth node started with the same genesis. Governance transactions signed by the
// organisation admins add the fifth as a validator; after the boundary checkpoint it votes (its COMMIT
// signature is in commit certificates) and commits continue. Then one genesis validator is removed:
// commits continue without it, and the others' p2p gates refuse it.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeTransaction,
  type Signer,
  sha256,
  signerFromSeed,
  signTransaction,
  TxType,
  transactionId,
} from '@vigil/consensus/wire';
import { encodeBody, type TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import t from 'tap';
import { defaultConfig, homePaths, initHome, type NodeConfig } from '../validator/home.ts';
import { createNetworkHomes } from '../validator/network-homes.ts';
import { eventually, freePorts } from './ports.ts';
import { ProcessNetwork } from './process-network.ts';

const CHAIN = 'vigil-reconfig';
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
let seq = 0;

interface Status {
  height: number;
  validatorSet: { epoch: number; fromHeight: number; validators: string[]; self: number };
  p2p: { connections: { refusedNotAllowed: number } };
  peers: { key: string; connected: boolean }[];
}

function signed(
  signer: Signer,
  type: number,
  nonce: number,
  body: TxBody,
): { id: string; bytes: Uint8Array } {
  const tx = signTransaction(
    {
      version: 1,
      chainId: CHAIN,
      type,
      sender: signer.publicKey,
      nonce,
      timestamp: Date.now(),
      body: encodeBody(body),
    },
    signer,
  );
  return { id: hex(transactionId(tx)), bytes: encodeTransaction(tx) };
}

/** A fresh patient registering themselves: valid on any state, so it only pushes the height up. */
function registration() {
  const patient = signerFromSeed(sha256(new TextEncoder().encode(`reconfig-patient-${seq++}`)));
  return signed(patient, TxType.registerPatient, 1, { type: 20, patient: patient.publicKey });
}

async function submit(apiUrl: string, bytes: Uint8Array): Promise<number> {
  try {
    const res = await fetch(`${apiUrl}/v1/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/cbor' },
      body: new Uint8Array(bytes),
      signal: AbortSignal.timeout(2_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

async function getJson<T>(url: string): Promise<T | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? ((await res.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

async function committedOn(apiUrl: string, id: string): Promise<boolean> {
  return (await getJson<{ status: string }>(`${apiUrl}/v1/transactions/${id}`))?.status === 'committed';
}

t.test('a validator joins and another leaves, on live processes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-reconfig-'));
  const ports = await freePorts(10);
  const homes = createNetworkHomes({
    dir,
    validators: 4,
    chainId: CHAIN,
    p2pPorts: ports.slice(0, 4),
    apiPorts: ports.slice(5, 9),
    seedLabel: 'reconfig',
    consensus: { viewChangeTimeoutMs: 1_000, checkpointInterval: 4, windowSize: 16 },
  });
  // The fifth node: same genesis, not a validator in it; everyone knows its address.
  const home4 = join(dir, 'node4');
  const config4 = defaultConfig('validator-4', ports[4]!, ports[9]!);
  config4.p2p.peers = homes.genesis.validators.map((v, i) => ({
    publicKey: v.publicKey,
    addrs: [`/ip4/127.0.0.1/tcp/${ports[i]}`],
  }));
  const key4 = initHome(
    home4,
    config4,
    sha256(new TextEncoder().encode('vigil-test-seed/reconfig/validator-4')),
  );
  copyFileSync(homePaths(homes.homes[0]!).genesis, homePaths(home4).genesis);
  for (const h of homes.homes) {
    const path = homePaths(h).config;
    const c = JSON.parse(readFileSync(path, 'utf8')) as NodeConfig;
    c.p2p.peers.push({ publicKey: hex(key4.publicKey), addrs: [`/ip4/127.0.0.1/tcp/${ports[4]}`] });
    writeFileSync(path, `${JSON.stringify(c, null, 2)}\n`);
  }
  const net = new ProcessNetwork([...homes.homes, home4]);
  t.teardown(async () => {
    await net.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });
  net.startAll({ VIGIL_LOG_LEVEL: 'warn' });
  t.ok(await net.waitReady(90_000), 'all five APIs answer');
  const nodes = net.nodes;
  const status = (i: number) => getJson<Status>(`${nodes[i]!.apiUrl}/v1/status`);
  t.ok(
    await eventually(async () => {
      for (const i of [0, 1, 2, 3]) {
        const s = await status(i);
        if (!s || s.peers.filter((p) => p.connected).length < 3) return false;
      }
      return true;
    }, 30_000),
    'the four genesis validators are fully connected',
  );
  const s4 = await status(4);
  t.equal(s4?.validatorSet.self, -1, 'the fifth node starts outside the validator set');

  const admin = (i: number) => signerFromSeed(homes.adminKeys[`hospital-${i}`]!.seed);
  const nonces = new Map<number, number>();
  const nextNonce = (i: number) => {
    const n = (nonces.get(i) ?? 0) + 1;
    nonces.set(i, n);
    return n;
  };
  /** proposeGovernance by one admin, approveGovernance by two more: q = 3 of 4 organisations. */
  async function govern(proposal: Extract<TxBody, { type: 1 }>['proposal'], by: number[], label: string) {
    const p = signed(admin(by[0]!), TxType.proposeGovernance, nextNonce(by[0]!), { type: 1, proposal });
    const txs = [p];
    for (const a of by.slice(1))
      txs.push(
        signed(admin(a), TxType.approveGovernance, nextNonce(a), { type: 2, proposalId: fromHex(p.id) }),
      );
    for (const tx of txs) {
      t.equal(await submit(nodes[0]!.apiUrl, tx.bytes), 202, `${label}: accepted`);
      t.ok(await eventually(() => committedOn(nodes[0]!.apiUrl, tx.id), 30_000, 100), `${label}: committed`);
    }
  }
  /** Registrations, one at a time, until `done` (blocks are made only for transactions). */
  async function pushHeightsUntil(done: () => Promise<boolean>, targets: number[], timeoutMs: number) {
    let k = 0;
    return eventually(
      async () => {
        if (await done()) return true;
        await submit(nodes[targets[k++ % targets.length]!]!.apiUrl, registration().bytes);
        return false;
      },
      timeoutMs,
      150,
    );
  }

  // 1. Add the fifth node as a validator of hospital-0.
  await govern({ action: 2, publicKey: key4.publicKey, orgId: 'hospital-0' }, [0, 1, 2], 'add validator');
  let boundary = 0;
  t.ok(
    await pushHeightsUntil(
      async () => {
        const s = await status(4);
        if (s === undefined || s.validatorSet.self < 0) return false;
        boundary = s.validatorSet.fromHeight - 1;
        return s.height > boundary + 6;
      },
      [0, 1, 2, 3],
      90_000,
    ),
    'the fifth node became a member of the next epoch and follows the chain past the boundary',
  );
  const s0 = (await status(0))!;
  t.equal(s0.validatorSet.validators.length, 5, 'node 0 sees five validators');
  t.equal(s0.validatorSet.epoch, 1, 'in epoch 1');
  const index4 = s0.validatorSet.validators.indexOf(hex(key4.publicKey));
  t.equal(index4, 4, 'the new validator is the fifth of the set');
  let signedBy4 = 0;
  let checked = 0;
  for (let h = boundary + 1; h <= s0.height; h++) {
    const b = await getJson<{ validators: string[]; certificate: { votes: { validator: number }[] } }>(
      `${nodes[0]!.apiUrl}/v1/blocks/${h}`,
    );
    if (!b) continue;
    checked++;
    t.equal(b.validators.length, 5, `block ${h}: certified by the five-member set`);
    if (b.certificate.votes.some((v) => v.validator === index4)) signedBy4++;
  }
  const before = await getJson<{ validators: string[] }>(`${nodes[0]!.apiUrl}/v1/blocks/${boundary}`);
  t.equal(before?.validators.length, 4, 'the boundary block itself was certified by the genesis set');
  t.ok(
    checked > 0 && signedBy4 > 0,
    `the new validator's COMMIT is in ${signedBy4} of ${checked} certificates`,
  );

  // 2. Remove validator 3 (hospital-3's). Approvals from three organisations again.
  const key3 = homes.genesis.validators[3]!.publicKey;
  await govern({ action: 3, publicKey: fromHex(key3) }, [1, 2, 0], 'remove validator');
  t.ok(
    await pushHeightsUntil(
      async () => {
        const s = await status(0);
        return s !== undefined && s.validatorSet.epoch === 2;
      },
      [0, 1, 2, 4],
      90_000,
    ),
    'the removal took effect at its boundary',
  );
  const e2 = (await status(0))!;
  t.notOk(e2.validatorSet.validators.includes(key3), 'validator 3 is no longer in the set');
  t.equal(e2.validatorSet.validators.length, 4, 'four validators remain');
  const heightAtRemoval = e2.height;
  t.ok(
    await pushHeightsUntil(
      async () => {
        for (const i of [0, 1, 2, 4]) {
          const s = await status(i);
          if (!s || s.height < heightAtRemoval + 5) return false;
        }
        return true;
      },
      [0, 1, 2, 4],
      60_000,
    ),
    'commits continue on the remaining four',
  );
  t.ok(
    await eventually(
      async () => {
        let refused = 0;
        for (const i of [0, 1, 2, 4]) {
          const s = await status(i);
          if (!s) return false;
          if (s.peers.some((p) => p.key === key3)) return false;
          refused += s.p2p.connections.refusedNotAllowed;
        }
        return refused > 0;
      },
      30_000,
      250,
    ),
    'the removed validator is dropped from the gates and its connections are refused (and counted)',
  );
});
