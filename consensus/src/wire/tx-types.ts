// Transaction type codes (fixed by issue #2; bodies are defined by the state machine in ./bodies and
// docs/state-machine.md). Codes are grouped by tens per domain so a new type slots in without renumbering.
export const TxType = {
  proposeGovernance: 1,
  approveGovernance: 2,
  enrolClinician: 10,
  enrolResearcher: 11,
  suspendActor: 12,
  reinstateActor: 13,
  registerPatient: 20,
  appointGuardian: 21,
  removeGuardian: 22,
  bindDevice: 30,
  rotateDeviceKey: 31,
  suspendDevice: 32,
  revokeDevice: 33,
  grantAccess: 40,
  revokeAccess: 41,
  emergencyAccess: 42,
  closeEmergencyAccess: 43,
  researchConsent: 44,
  submitReadings: 50,
  recordObservation: 51,
  recordAccess: 52,
  setAlertPolicy: 60,
  acknowledgeAlert: 61,
} as const;

export type TxTypeName = keyof typeof TxType;
export type TxTypeCode = (typeof TxType)[TxTypeName];

const CODES: ReadonlySet<number> = new Set(Object.values(TxType));
const NAMES: ReadonlyMap<number, TxTypeName> = new Map(
  (Object.entries(TxType) as [TxTypeName, TxTypeCode][]).map(([name, code]) => [code, name]),
);

export function isTxTypeCode(code: unknown): code is TxTypeCode {
  return typeof code === 'number' && CODES.has(code);
}

export function txTypeName(code: number): TxTypeName | undefined {
  return NAMES.get(code);
}
