// Compact PRE-PREPAREs between four validators (ADR 0129): the backups rebuild the primary's blocks
// from the transactions they were gossiped, fetch the ones they never saw, and the blocks commit to the
// same state everywhere, also with a backup of the protocol's 1.0.0 version in the network.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTransaction, transactionId } from '@vigil/consensus/wire';
import pino from 'pino';
import t from 'tap';
import { eventually, freePorts } from '../testing/ports.ts';
import { selfRegistration } from '../testing/registration.ts';
import { createNetworkHomes } from './network-homes.ts';
import { Validator } from './validator.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A patient's self-registration (nonce 1) on this test's chain, signed by a key derived from `label`. */
function registration(label: string, timestamp: number) {
  return selfRegistration('vigil-cpp', label, timestamp);
}

t.test(
  'a backup that lacks transactions fetches them from the primary; every block commits, also with a 1.0.0 backup',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-compact-'));
    const validators: Validator[] = [];
    t.teardown(async () => {
      await Promise.all(validators.map((v) => v.stop()));
      rmSync(dir, { recursive: true, force: true });
    });
    const net = createNetworkHomes({
      dir,
      validators: 4,
      chainId: 'vigil-cpp',
      p2pPorts: await freePorts(4),
      apiBasePort: 0,
      seedLabel: 'compact',
    });
    const log = pino({ level: 'silent' });
    // Validator 3 speaks only the 1.0.0 consensus protocol: it must get every PRE-PREPARE whole.
    for (const [i, home] of net.homes.entries())
      validators.push(await Validator.start({ home, log, tickMs: 20, compactPrePrepare: i !== 3 }));
    t.ok(
      await eventually(
        () => validators.every((v) => v.network.peers().filter((p) => p.connected).length === 3),
        10_000,
      ),
      'meshed',
    );
    const primary = validators.find((v) => v.replica.isPrimary)!;
    const backups = validators.filter((v) => v !== primary);

    // Six transactions the backups are gossiped (submitted through the primary), and four only the
    // primary ever holds: admitted to its mempool directly, never gossiped. Both go into its blocks.
    const now = Date.now();
    const gossiped = Array.from({ length: 6 }, (_, i) => registration(`gossiped-${i}`, now));
    const withheld = Array.from({ length: 4 }, (_, i) => registration(`withheld-${i}`, now));
    for (const tx of withheld) await primary.mempool.add(encodeTransaction(tx));
    for (const tx of gossiped) await primary.submit(encodeTransaction(tx));
    const ids = [...gossiped, ...withheld].map(transactionId);

    const committed = await eventually(async () => {
      for (const v of validators) for (const id of ids) if (!(await v.store.txs.has(id))) return false;
      return true;
    }, 30_000);
    t.ok(committed, 'every transaction committed on every validator');
    const height = Math.min(...validators.map((v) => v.store.requireHead().height));
    await eventually(() => validators.every((v) => v.store.requireHead().height === height), 5_000);
    t.equal(new Set(validators.map((v) => hex(v.store.requireHead().stateRoot))).size, 1, 'one state');

    // The primary sent compact PRE-PREPAREs to the two compact backups and whole ones to the old one.
    const pm = primary.network.metrics();
    t.ok(pm.compact.sent >= 2, `compact copies sent: ${pm.compact.sent}`);
    t.ok(pm.compact.sentFull >= 1, `whole copies sent to the 1.0.0 backup: ${pm.compact.sentFull}`);
    t.ok(pm.compact.served >= 1, 'the primary answered txfetch');
    for (const b of backups) {
      const c = b.network.metrics().compact;
      if (b.index === 3) {
        t.equal(c.received, 0, 'the 1.0.0 backup never saw a compact message');
        continue;
      }
      t.ok(c.received >= 1, `backup ${b.index} received compact PRE-PREPAREs (${JSON.stringify(c)})`);
      t.ok(c.fetches >= 1, `backup ${b.index} asked the primary for what it lacked`);
      // By position, or (had that request timed out on a loaded machine) as the whole message.
      t.ok(
        c.fetchedTxs + c.fullFetched >= 1,
        `backup ${b.index} got it (${c.fetchedTxs} transactions fetched)`,
      );
      t.ok(c.fetchedTxs <= withheld.length, 'never more than it lacked');
      t.same(c.refused, {}, 'honest validators never refuse each other');
      t.ok(b.status().p2p.compact.received >= 1, 'the counters are in the status the API serves');
    }
  },
);
