// A standard little world for tests: four hospitals (a quorum of 3 for governance), one validator each,
// two clinicians at different hospitals, a researcher, a patient with a guardian and a bound wearable.

import type { TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { Harness, type Receipt, TestActor } from './harness.ts';

export const CHAIN = 'vigil-test';
export const T0 = 1_700_000_000_000;
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export class World {
  readonly h: Harness;
  readonly admins: TestActor[];
  /** A second admin of org-a. */
  readonly coAdmin: TestActor;
  readonly validators: TestActor[];
  readonly clinician: TestActor;
  readonly otherClinician: TestActor;
  readonly researcher: TestActor;
  readonly patient: TestActor;
  readonly guardian: TestActor;
  readonly device: TestActor;
  readonly stranger: TestActor;
  now = T0;
  private seed = 1000;

  /** `verifier: null` skips signature checks (property runs use unsigned transactions for speed). */
  constructor(opts: { verifier?: null } = {}) {
    this.admins = [0, 1, 2, 3].map((i) => new TestActor(100 + i, CHAIN));
    this.coAdmin = new TestActor(110, CHAIN);
    this.validators = [0, 1, 2, 3].map((i) => new TestActor(200 + i, CHAIN));
    this.clinician = new TestActor(300, CHAIN);
    this.otherClinician = new TestActor(301, CHAIN);
    this.researcher = new TestActor(302, CHAIN);
    this.patient = new TestActor(400, CHAIN);
    this.guardian = new TestActor(401, CHAIN);
    this.device = new TestActor(500, CHAIN);
    this.stranger = new TestActor(900, CHAIN);
    const orgs = ['org-a', 'org-b', 'org-c', 'org-d'];
    this.h = new Harness(
      {
        chainId: CHAIN,
        genesisTime: T0,
        organisations: orgs.map((orgId, i) => ({
          orgId,
          name: orgId.toUpperCase(),
          admins: i === 0 ? [this.admins[0]!.key, this.coAdmin.key] : [this.admins[i]!.key],
        })),
        validators: orgs.map((orgId, i) => ({ publicKey: this.validators[i]!.key, orgId })),
      },
      opts,
    );
  }

  /** A fresh key holder. */
  actor(): TestActor {
    return new TestActor(this.seed++, CHAIN);
  }

  /** Applies one transaction in its own block at `now` (advanced by 1 s per block). */
  async run(actor: TestActor, body: TxBody, advanceMs = 1000): Promise<Receipt> {
    this.now += advanceMs;
    const [r] = await this.h.applyBlock([actor.tx(body, this.now)], this.now);
    return r!;
  }

  /** Like run, but throws unless accepted: for setting up preconditions. */
  async ok(actor: TestActor, body: TxBody, advanceMs = 1000): Promise<Receipt> {
    const r = await this.run(actor, body, advanceMs);
    if (!r.ok) throw new Error(`setup tx type ${body.type} rejected: ${r.code}`);
    return r;
  }

  /** Clinicians enrolled at org-a and org-b, researcher at org-a, patient registered with a guardian and a
   *  device bound for 30 days. */
  async populated(): Promise<this> {
    await this.ok(this.admins[0]!, { type: 10, publicKey: this.clinician.key, licenceId: 'GMC-1' });
    await this.ok(this.admins[1]!, { type: 10, publicKey: this.otherClinician.key, licenceId: 'GMC-2' });
    await this.ok(this.admins[0]!, { type: 11, publicKey: this.researcher.key, studyId: 'STUDY-1' });
    await this.ok(this.patient, { type: 20, patient: this.patient.key });
    await this.ok(this.patient, { type: 21, patient: this.patient.key, guardian: this.guardian.key });
    await this.ok(this.patient, {
      type: 30,
      device: this.device.key,
      patient: this.patient.key,
      validFrom: this.now,
      validUntil: this.now + 30 * DAY,
    });
    return this;
  }

  /** A second device, bound by the patient for a day (readings of one patient from two sources). */
  async bindSecondDevice(): Promise<TestActor> {
    const d = this.actor();
    await this.ok(this.patient, {
      type: 30,
      device: d.key,
      patient: this.patient.key,
      validFrom: this.now,
      validUntil: this.now + DAY,
    });
    return d;
  }

  /** Patient grants the clinician treatment access to everything for a day; returns the grant id. */
  async grantClinician(
    scopes: string[] = ['*'],
    purpose: 1 | 2 | 3 = 1,
    who = this.clinician,
  ): Promise<Uint8Array> {
    const r = await this.ok(this.patient, {
      type: 40,
      patient: this.patient.key,
      grantee: { kind: 1, key: who.key },
      scopes,
      purpose,
      expiresAt: this.now + DAY,
    });
    return r.txId;
  }

  reading(kind: number, value: number, measuredAt = this.now) {
    const unit = ['', '/min', '%', 'mm[Hg]', 'mm[Hg]', 'Cel', '/min', '{bool}', '{ACVPU}'][kind]!;
    return { kind, value, unit, measuredAt };
  }
}
