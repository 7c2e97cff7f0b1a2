// A patient's self-registration, the smallest transaction a fresh chain accepts from anyone: what the
// multi-validator tests submit when they need committed transactions and not a particular workload.
import { encodeBody } from '@vigil/consensus/wire/bodies/index.ts';
import { sha256, signerFromSeed, signTransaction, TxType } from '@vigil/consensus/wire';

/** registerPatient (nonce 1) on `chainId`, signed by a key derived from `label`. */
export function selfRegistration(chainId: string, label: string, timestamp: number) {
  const patient = signerFromSeed(sha256(new TextEncoder().encode(label)));
  return signTransaction(
    {
      version: 1,
      chainId,
      type: TxType.registerPatient,
      sender: patient.publicKey,
      nonce: 1,
      timestamp,
      body: encodeBody({ type: 20, patient: patient.publicKey }),
    },
    patient,
  );
}
