// Validator-set changes between the state machine and consensus (ADR 0015, ADR 0041): governance
// emits `validatorSetChange` [A, [[publicKey, orgId]...], proposalId] when it executes a change; the
// set certifies heights from A+1 on (block A itself, and the checkpoint at A, belong to the old set).
// This module turns those events, and after a restart the state's validator list, into the
// `reconfigure` events the PBFT core takes, and says which validators the p2p gate admits.
import type { CborValue } from '@vigil/consensus/wire';
import type { EmittedEvent } from '../exec/executor.ts';
import { activeValidators } from '../state-machine/handlers/governance.ts';
import { Keys } from '../state-machine/keys.ts';
import { Codec, readRecord, type StateGet } from '../state-machine/records.ts';

/** A change as the core takes it: from `fromHeight` on, `validators` (in order) certify blocks. */
export interface Reconfiguration {
  fromHeight: number;
  validators: Uint8Array[];
}

export class ValidatorSetError extends Error {
  readonly code = 'BAD_VALIDATOR_SET_EVENT';
  constructor(message: string) {
    super(message);
    this.name = 'ValidatorSetError';
  }
}

/** The changes a block's execution decided, in event order. */
export function reconfigurationsOf(events: readonly EmittedEvent[]): Reconfiguration[] {
  const out: Reconfiguration[] = [];
  for (const e of events) {
    if (e.event.kind !== 'validatorSetChange') continue;
    const [at, set] = e.event.data as CborValue[];
    if (typeof at !== 'number' || !Number.isSafeInteger(at) || !Array.isArray(set)) {
      throw new ValidatorSetError('validatorSetChange is [height, [[publicKey, orgId]...], proposalId]');
    }
    const validators = set.map((v) => {
      if (!Array.isArray(v) || !(v[0] instanceof Uint8Array) || v[0].length !== 32)
        throw new ValidatorSetError('validatorSetChange entry is [publicKey, orgId]');
      return v[0];
    });
    out.push({ fromHeight: at + 1, validators });
  }
  return out;
}

/**
 * Every change recorded in the state (fromHeight/untilHeight per validator), oldest first: what the
 * driver hands the core again after a restart, in case a crash came between applying a deciding block
 * and handing its change in. The core ignores the ones it already persisted.
 */
export async function reconfigurationsInState(state: StateGet): Promise<Reconfiguration[]> {
  const vs = (await readRecord(state, Keys.validators(), Codec.validators)) ?? [];
  const heights = new Set<number>();
  for (const v of vs) {
    if (v.fromHeight > 0) heights.add(v.fromHeight);
    if (v.untilHeight !== null) heights.add(v.untilHeight);
  }
  return [...heights]
    .sort((a, b) => a - b)
    .map((at) => ({ fromHeight: at + 1, validators: activeValidators(vs, at + 1).map((v) => v.publicKey) }));
}

/**
 * The validators the p2p gate admits: the current epoch's and every later known epoch's. A validator
 * whose change is decided is admitted at once (it must sync and receive the boundary CHECKPOINTs);
 * one that was removed is refused once its last epoch is over.
 */
export function admittedValidators(
  current: number,
  epochs: readonly { validators: readonly Uint8Array[] }[],
): Uint8Array[] {
  const seen = new Map<string, Uint8Array>();
  for (const e of epochs.slice(current))
    for (const k of e.validators) seen.set(Buffer.from(k).toString('hex'), k);
  return [...seen.values()];
}
