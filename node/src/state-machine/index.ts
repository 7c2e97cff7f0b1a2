// @vigil/node/state-machine: Vigil's access-control state machine (docs/state-machine.md).
export { type AccessBasis, type AccessDecision, DenyCode, decideAccess } from './access.ts';
export { DERIVED_INDEX_PREFIXES, derivedIndexRecords } from './access-index.ts';
export { RejectCode } from './codes.ts';
export { GenesisError, type GenesisSpec, genesisState, type StateWrite } from './genesis.ts';
export { activeValidators, governanceQuorum, validatorChangeHeight } from './handlers/governance.ts';
export { createHandlers, type HandlerOptions } from './handlers/index.ts';
export { IndexKeys, Keys } from './keys.ts';
export { defaultParams, PARAMS, type ParamName, type Params } from './params.ts';
export * from './query.ts';
export { AlertStatus, ActorStatus, DeviceStatus, Role } from './records.ts';
export { chainStoreReadView } from './store-view.ts';
