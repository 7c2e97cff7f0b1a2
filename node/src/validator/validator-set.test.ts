// Reading validator-set changes out of execution events and the state (ADR 0015, ADR 0041).
import { encodeCanonical } from '@vigil/consensus/wire';
import t from 'tap';
import type { EmittedEvent } from '../exec/executor.ts';
import { Keys } from '../state-machine/keys.ts';
import { Codec } from '../state-machine/records.ts';
import {
  admittedValidators,
  reconfigurationsInState,
  reconfigurationsOf,
  ValidatorSetError,
} from './validator-set.ts';

const key = (i: number) => new Uint8Array(32).fill(i);
const event = (kind: string, data: unknown): EmittedEvent => ({
  height: 5,
  position: 0,
  txId: new Uint8Array(32),
  event: { kind, data },
});

t.test('a validatorSetChange event becomes a change from the height after A', async (t) => {
  const set = [
    [key(1), 'h-1'],
    [key(2), 'h-2'],
  ];
  t.same(reconfigurationsOf([event('alertRaised', []), event('validatorSetChange', [32, set, key(9)])]), [
    { fromHeight: 33, validators: [key(1), key(2)] },
  ]);
  t.throws(() => reconfigurationsOf([event('validatorSetChange', ['32', set, key(9)])]), ValidatorSetError);
  t.throws(
    () => reconfigurationsOf([event('validatorSetChange', [32, [[new Uint8Array(3), 'x']], key(9)])]),
    ValidatorSetError,
  );
});

t.test('the state yields every change, in height order, as the events did', async (t) => {
  const list = [
    { publicKey: key(1), orgId: 'a', fromHeight: 0, untilHeight: 48 },
    { publicKey: key(2), orgId: 'b', fromHeight: 0, untilHeight: null },
    { publicKey: key(3), orgId: 'c', fromHeight: 32, untilHeight: null },
  ];
  const state = new Map([
    [Buffer.from(Keys.validators()).toString('hex'), encodeCanonical(Codec.validators.enc(list))],
  ]);
  const get = async (k: Uint8Array) => state.get(Buffer.from(k).toString('hex'));
  t.same(await reconfigurationsInState({ get }), [
    { fromHeight: 33, validators: [key(1), key(2), key(3)] },
    { fromHeight: 49, validators: [key(2), key(3)] },
  ]);
  t.same(await reconfigurationsInState({ get: async () => undefined }), [], 'no list: genesis only');
});

t.test('the gate admits the current and later epochs, not earlier ones', async (t) => {
  const epochs = [
    { validators: [key(1), key(2)] },
    { validators: [key(2), key(3)] },
    { validators: [key(3)] },
  ];
  t.same(admittedValidators(0, epochs), [key(1), key(2), key(3)], 'a decided addition is admitted at once');
  t.same(admittedValidators(1, epochs), [key(2), key(3)], 'a removed validator is refused after its epoch');
  t.same(admittedValidators(2, epochs), [key(3)]);
});
