// The p2p connection gate follows the validator set (ADR 0015): who may connect is the current epoch's
// validators plus those of every later epoch already decided. A validator added by governance is
// admitted as soon as the change executes (it has to sync and hear the boundary CHECKPOINTs before it
// votes); a removed one is refused once the epoch it last belonged to is over, and its refused
// connection attempts are logged and counted by p2p (`connection-refused`, connections.refusedNotAllowed).
// Consensus peers are addressed by roster id, the replica's stable numbering of every key ever named.
import type { Replica } from '@vigil/consensus/pbft';
import { keyHex, type VigilNetwork } from '@vigil/p2p';
import type { Logger } from 'pino';
import type { NodeConfig } from './home.ts';
import { admittedValidators } from './validator-set.ts';

export class ValidatorGate {
  readonly #replica: Replica;
  readonly #network: VigilNetwork;
  readonly #config: NodeConfig;
  readonly #log: Logger;
  #rosterIds = new Map<string, number>();
  #admitted: string;
  #updates = 0;

  constructor(replica: Replica, network: VigilNetwork, config: NodeConfig, log: Logger) {
    this.#replica = replica;
    this.#network = network;
    this.#config = config;
    this.#log = log;
    this.#admitted = ValidatorGate.admitted(replica).map(keyHex).sort().join();
  }

  /** The validator keys the gate admits for this replica's current and later epochs. */
  static admitted(replica: Replica): Uint8Array[] {
    return admittedValidators(replica.epochIndex, replica.epochs());
  }

  /** The roster id of a peer key, or undefined for a key no epoch names. */
  rosterId(key: string): number | undefined {
    const roster = this.#replica.roster;
    if (this.#rosterIds.size !== roster.length)
      this.#rosterIds = new Map(roster.map((k, i) => [keyHex(k), i]));
    return this.#rosterIds.get(key);
  }

  /** Re-gates when the admitted set changed (a change decided, or an epoch over). Cheap otherwise. */
  update(): void {
    const admitted = ValidatorGate.admitted(this.#replica);
    const signature = admitted.map(keyHex).sort().join();
    if (signature === this.#admitted) return;
    const before = new Set(this.#admitted.split(','));
    const after = new Set(signature.split(','));
    this.#admitted = signature;
    this.#updates++;
    const addrs = new Map(this.#config.p2p.peers.map((p) => [p.publicKey, p.addrs]));
    this.#network.updateAllowedPeers({
      validators: admitted.map((k) => ({ publicKey: k, addrs: addrs.get(keyHex(k)) ?? [] })),
      observers: this.#config.p2p.observers.map((o) => ({
        publicKey: new Uint8Array(Buffer.from(o.publicKey, 'hex')),
        addrs: o.addrs,
      })),
    });
    this.#log.info(
      {
        epoch: this.#replica.epochIndex,
        admitted: [...after].map((k) => k.slice(0, 16)),
        added: [...after].filter((k) => !before.has(k)).map((k) => k.slice(0, 16)),
        removed: [...before].filter((k) => !after.has(k)).map((k) => k.slice(0, 16)),
      },
      'validator set changed: p2p gate updated',
    );
  }

  /** For /v1/status: the set in force and what the gate admits. */
  describe() {
    const e = this.#replica.epoch;
    return {
      epoch: e.index,
      fromHeight: e.start,
      untilHeight: e.last ?? null,
      validators: e.validators.map(keyHex),
      self: this.#replica.id,
      admitted: this.#admitted.split(',').filter((k) => k.length > 0),
      gateUpdates: this.#updates,
    };
  }
}
