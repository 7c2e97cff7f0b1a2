// The initial state: founding organisations with their admin keys, the validator set and the parameters.
// Node-core's initChain takes the returned writes as-is (a generic list of key/value pairs).

import { bytesEqual, encodeCanonical } from '@vigil/consensus/wire';
import { ORG_ID_PATTERN } from '@vigil/consensus/wire/bodies/index.ts';
import { Keys } from './keys.ts';
import { isParamName, LIMITS, PARAM_NAMES, PARAMS, type Params, paramInRange } from './params.ts';
import { ActorStatus, Codec, type RecordCodec, Role } from './records.ts';

export interface GenesisSpec {
  chainId: string;
  /** ms since the Unix epoch; recorded as the organisations' and admins' `since`. */
  genesisTime: number;
  organisations: { orgId: string; name: string; admins: Uint8Array[] }[];
  /** In order: a validator's index in consensus is its position here. */
  validators: { publicKey: Uint8Array; orgId: string }[];
  parameters?: Partial<Params>;
}

export class GenesisError extends Error {
  readonly code = 'INVALID_GENESIS';
  constructor(message: string) {
    super(message);
    this.name = 'GenesisError';
  }
}

export interface StateWrite {
  key: Uint8Array;
  value: Uint8Array;
}

/** Validates the spec and returns the initial state writes, sorted by key (deterministic). */
export function genesisState(genesis: GenesisSpec): StateWrite[] {
  const writes: StateWrite[] = [];
  const put = <T>(key: Uint8Array, codec: RecordCodec<T>, r: T) =>
    writes.push({ key, value: encodeCanonical(codec.enc(r)) });
  const orgs = genesis.organisations;
  if (orgs.length === 0 || orgs.length > LIMITS.maxOrganisations)
    throw new GenesisError('1..128 organisations');
  if (genesis.validators.length === 0 || genesis.validators.length > LIMITS.maxValidators) {
    throw new GenesisError('1..128 validators');
  }
  const seenKeys: Uint8Array[] = [];
  const fresh = (k: Uint8Array, what: string) => {
    if (k.length !== 32) throw new GenesisError(`${what}: public key must be 32 bytes`);
    if (seenKeys.some((s) => bytesEqual(s, k))) throw new GenesisError(`${what}: key used twice`);
    seenKeys.push(k);
  };
  const orgIds = new Set<string>();
  for (const o of orgs) {
    if (!ORG_ID_PATTERN.test(o.orgId) || orgIds.has(o.orgId))
      throw new GenesisError(`bad or repeated org id ${o.orgId}`);
    if (o.admins.length === 0) throw new GenesisError(`${o.orgId}: at least one admin`);
    orgIds.add(o.orgId);
    put(Keys.org(o.orgId), Codec.org, { name: o.name, since: genesis.genesisTime });
    for (const admin of o.admins) {
      fresh(admin, `${o.orgId} admin`);
      put(Keys.actor(admin), Codec.actor, {
        role: Role.orgAdmin,
        orgId: o.orgId,
        status: ActorStatus.active,
        credential: '',
        since: genesis.genesisTime,
        enrolledBy: null,
      });
    }
  }
  put(Keys.orgList(), Codec.strings, [...orgIds].sort());
  const validatorKeys: Uint8Array[] = [];
  for (const v of genesis.validators) {
    if (!orgIds.has(v.orgId)) throw new GenesisError(`validator of unknown org ${v.orgId}`);
    if (v.publicKey.length !== 32 || validatorKeys.some((k) => bytesEqual(k, v.publicKey))) {
      throw new GenesisError('validator keys must be 32 bytes and distinct');
    }
    validatorKeys.push(v.publicKey);
  }
  put(
    Keys.validators(),
    Codec.validators,
    genesis.validators.map((v) => ({
      publicKey: v.publicKey,
      orgId: v.orgId,
      fromHeight: 0,
      untilHeight: null,
    })),
  );
  for (const [name, value] of Object.entries(genesis.parameters ?? {})) {
    if (!isParamName(name) || !paramInRange(name, value))
      throw new GenesisError(`bad parameter ${name}=${value}`);
  }
  // Every parameter is written explicitly, so a later change of a built-in default cannot fork the chain.
  put(
    Keys.params(),
    Codec.params,
    Object.fromEntries(PARAM_NAMES.map((n) => [n, genesis.parameters?.[n] ?? PARAMS[n].default])) as Params,
  );
  return writes.sort((a, b) => Buffer.compare(a.key, b.key));
}
