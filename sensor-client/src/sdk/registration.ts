// Enrolling a simulated or new device on chain: the patient registers themself (registerPatient with
// sender = patient key) and binds the device (bindDevice; the patient is its controller). In a hospital
// an organisation admin or clinician does these with their own key; the helper takes any signer.

import type { Signer } from '@vigil/consensus/wire';
import { toHex } from '../util/hex.ts';
import type { NodeClient, SubmitResult } from './api-client.ts';
import { buildBindDevice, buildRegisterPatient } from './transactions.ts';

export interface EnrolResult {
  registerPatient: SubmitResult | undefined;
  bindDevice: SubmitResult;
}

const YEAR_MS = 365 * 86_400_000;

/** Registers `patient` (when `patient` is also the sender and `register` is set) and binds `device`. */
export async function enrolDevice(
  client: NodeClient,
  opts: {
    chainId: string;
    registrar: Signer;
    patient: Uint8Array;
    device: Uint8Array;
    now: number;
    register: boolean;
    validityMs?: number;
  },
): Promise<EnrolResult> {
  const account = await client.account(toHex(opts.registrar.publicKey));
  let nonce = Math.max(account.nonce, account.pendingNonce);
  const txs: Uint8Array[] = [];
  if (opts.register) {
    txs.push(
      buildRegisterPatient(
        { chainId: opts.chainId, signer: opts.registrar, nonce: ++nonce, timestamp: opts.now },
        opts.patient,
      ).bytes,
    );
  }
  const validFrom = opts.now - 60_000;
  txs.push(
    buildBindDevice(
      { chainId: opts.chainId, signer: opts.registrar, nonce: ++nonce, timestamp: opts.now },
      opts.device,
      opts.patient,
      validFrom,
      validFrom + (opts.validityMs ?? YEAR_MS),
    ).bytes,
  );
  const results = await client.submitBatch(txs);
  return opts.register
    ? { registerPatient: results[0], bindDevice: results[1]! }
    : { registerPatient: undefined, bindDevice: results[0]! };
}
