// The handler registry: decode the body with the shared typed codec (a malformed body is rejected with
// its BodyError code), read the chain parameters, then run the typed handler.

import { type Transaction, TxType } from '@vigil/consensus/wire';
import { BodyError, type BodyOf, decodeBody, type TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { TxRejected } from '../../exec/errors.ts';
import type { ExecContext, HandlerRegistry, TxHandler } from '../../exec/types.ts';
import type { Params } from '../params.ts';
import { readParams } from '../records.ts';
import { acknowledgeAlert, setAlertPolicy } from './alerts.ts';
import type { HandlerEnv } from './common.ts';
import { closeEmergencyAccess, emergencyAccess, grantAccess, recordAccess, revokeAccess } from './consent.ts';
import { bindDevice, revokeDevice, rotateDeviceKey, suspendDevice } from './devices.ts';
import { approveGovernance, proposeGovernance } from './governance.ts';
import {
  appointGuardian,
  enrolClinician,
  enrolResearcher,
  registerPatient,
  reinstateActor,
  removeGuardian,
  researchConsent,
  suspendActor,
} from './identity.ts';
import { recordObservation, submitReadings } from './readings.ts';

type Typed = { [T in TxBody['type']]: (env: HandlerEnv, b: BodyOf<T>) => Promise<void> };

const TYPED: Typed = {
  [TxType.proposeGovernance]: proposeGovernance,
  [TxType.approveGovernance]: approveGovernance,
  [TxType.enrolClinician]: enrolClinician,
  [TxType.enrolResearcher]: enrolResearcher,
  [TxType.suspendActor]: suspendActor,
  [TxType.reinstateActor]: reinstateActor,
  [TxType.registerPatient]: registerPatient,
  [TxType.appointGuardian]: appointGuardian,
  [TxType.removeGuardian]: removeGuardian,
  [TxType.bindDevice]: bindDevice,
  [TxType.rotateDeviceKey]: rotateDeviceKey,
  [TxType.suspendDevice]: suspendDevice,
  [TxType.revokeDevice]: revokeDevice,
  [TxType.grantAccess]: grantAccess,
  [TxType.revokeAccess]: revokeAccess,
  [TxType.emergencyAccess]: emergencyAccess,
  [TxType.closeEmergencyAccess]: closeEmergencyAccess,
  [TxType.researchConsent]: researchConsent,
  [TxType.submitReadings]: submitReadings,
  [TxType.recordObservation]: recordObservation,
  [TxType.recordAccess]: recordAccess,
  [TxType.setAlertPolicy]: setAlertPolicy,
  [TxType.acknowledgeAlert]: acknowledgeAlert,
} as Typed;

export interface HandlerOptions {
  /** Parameter values used when the state holds none (genesisState writes them all). */
  defaults?: Partial<Params>;
}

export function createHandlers(options: HandlerOptions = {}): HandlerRegistry {
  const registry = new Map<number, TxHandler>();
  for (const [typeKey, typed] of Object.entries(TYPED)) {
    const type = Number(typeKey);
    registry.set(type, async (ctx: ExecContext, tx: Transaction) => {
      let body: TxBody;
      try {
        body = decodeBody(type, tx.body);
      } catch (e) {
        if (e instanceof BodyError) throw new TxRejected(e.code, e.message);
        throw e;
      }
      const params = await readParams(ctx.state, options.defaults);
      await (typed as (env: HandlerEnv, b: TxBody) => Promise<void>)(
        { ctx, sender: tx.sender, params },
        body,
      );
    });
  }
  return registry;
}
