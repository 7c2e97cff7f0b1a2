// proposeGovernance and approveGovernance: changes to the consortium itself (a new organisation, a
// validator joining or leaving, a parameter) need approvals from a quorum of organisations, one vote per
// organisation, collected in successive transactions before the proposal expires. The quorum is PBFT's
// q = floor((n + f) / 2) + 1 with f = floor((n - 1) / 3) over the n organisations: 2f + 1 when
// n = 3f + 1, and never less than 2f + 1 or a majority otherwise (ADR 0041).

import { bytesEqual, type CborValue, quorumSize } from '@vigil/consensus/wire';
import {
  type BodyOf,
  decodeBody,
  encodeBody,
  type GovernanceProposal,
} from '@vigil/consensus/wire/bodies/index.ts';
import { RejectCode } from '../codes.ts';
import { Keys } from '../keys.ts';
import { isParamName, LIMITS, paramInRange } from '../params.ts';
import {
  ActorStatus,
  Codec,
  type ProposalRecord,
  Role,
  readParams,
  readRecord,
  writeRecord,
} from '../records.ts';
import { activeActor, type HandlerEnv, keyInUse, reject } from './common.ts';

export function governanceQuorum(organisations: number): number {
  return quorumSize(organisations);
}

/** First checkpoint height at which a validator change decided at `height` applies: the checkpoint after
 *  the next one, so every replica has executed the decision and taken a stable checkpoint before it. */
export function validatorChangeHeight(height: number, checkpointInterval: number): number {
  return (Math.floor(height / checkpointInterval) + 2) * checkpointInterval;
}

/**
 * The validators that certify block `height`: the set of the epoch containing it. A change stored with
 * effective height A (`fromHeight` of an addition, `untilHeight` of a removal; the A of its
 * validatorSetChange event) applies from A + 1: block A and the checkpoint at A still belong to the old
 * set (ADR 0015). Genesis validators have fromHeight 0, so they certify from height 1.
 */
export function activeValidators<T extends { fromHeight: number; untilHeight: number | null }>(
  vs: T[],
  height: number,
): T[] {
  return vs.filter((v) => v.fromHeight < height && (v.untilHeight === null || height <= v.untilHeight));
}

function proposalOf(stored: CborValue): GovernanceProposal {
  const b = decodeBody(1, [stored]);
  if (b.type !== 1) throw new Error('unreachable');
  return b.proposal;
}

/** Checks that a proposal could execute against the current state (at proposal and at execution). */
async function checkExecutable(env: HandlerEnv, p: GovernanceProposal): Promise<void> {
  const s = env.ctx.state;
  switch (p.action) {
    case 1: {
      if (await readRecord(s, Keys.org(p.orgId), Codec.org)) reject(RejectCode.ORG_EXISTS);
      const orgs = (await readRecord(s, Keys.orgList(), Codec.strings)) ?? [];
      if (orgs.length >= LIMITS.maxOrganisations)
        reject(RejectCode.PROPOSAL_INVALID, 'too many organisations');
      for (let i = 0; i < p.admins.length; i++) {
        if (await keyInUse(env, p.admins[i]!)) reject(RejectCode.KEY_IN_USE);
        if (p.admins.findIndex((k) => bytesEqual(k, p.admins[i]!)) !== i) reject(RejectCode.PROPOSAL_INVALID);
      }
      return;
    }
    case 2: {
      if (!(await readRecord(s, Keys.org(p.orgId), Codec.org))) reject(RejectCode.UNKNOWN_ORG);
      const vs = (await readRecord(s, Keys.validators(), Codec.validators)) ?? [];
      if (vs.some((v) => v.untilHeight === null && bytesEqual(v.publicKey, p.publicKey)))
        reject(RejectCode.VALIDATOR_EXISTS);
      if (vs.filter((v) => v.untilHeight === null).length >= LIMITS.maxValidators) {
        reject(RejectCode.PROPOSAL_INVALID, 'too many validators');
      }
      return;
    }
    case 3: {
      const vs = (await readRecord(s, Keys.validators(), Codec.validators)) ?? [];
      const remaining = vs.filter((v) => v.untilHeight === null);
      if (!remaining.some((v) => bytesEqual(v.publicKey, p.publicKey))) reject(RejectCode.UNKNOWN_VALIDATOR);
      // PBFT needs n >= 4 to tolerate one fault; refuse to go below the current minimum of 1 validator.
      if (remaining.length <= 1) reject(RejectCode.TOO_FEW_VALIDATORS);
      return;
    }
    case 4:
      if (!isParamName(p.name)) reject(RejectCode.UNKNOWN_PARAMETER);
      if (!paramInRange(p.name, p.value)) reject(RejectCode.PARAMETER_OUT_OF_RANGE);
      return;
  }
}

async function execute(env: HandlerEnv, p: GovernanceProposal, proposalId: Uint8Array): Promise<void> {
  const { ctx } = env;
  const s = ctx.state;
  switch (p.action) {
    case 1: {
      writeRecord(s, Keys.org(p.orgId), Codec.org, { name: p.name, since: ctx.blockTime });
      const orgs = (await readRecord(s, Keys.orgList(), Codec.strings)) ?? [];
      writeRecord(s, Keys.orgList(), Codec.strings, [...orgs, p.orgId].sort());
      for (const admin of p.admins) {
        writeRecord(s, Keys.actor(admin), Codec.actor, {
          role: Role.orgAdmin,
          orgId: p.orgId,
          status: ActorStatus.active,
          credential: '',
          since: ctx.blockTime,
          enrolledBy: null,
        });
      }
      ctx.emit({ kind: 'organisationRegistered', data: [p.orgId, proposalId] });
      return;
    }
    case 2:
    case 3: {
      const vs = (await readRecord(s, Keys.validators(), Codec.validators)) ?? [];
      const at = validatorChangeHeight(ctx.height, env.params.checkpointInterval);
      const next =
        p.action === 2
          ? [...vs, { publicKey: p.publicKey, orgId: p.orgId, fromHeight: at, untilHeight: null }]
          : vs.map((v) =>
              v.untilHeight === null && bytesEqual(v.publicKey, p.publicKey) ? { ...v, untilHeight: at } : v,
            );
      writeRecord(s, Keys.validators(), Codec.validators, next);
      // The set that certifies heights above `at`, in order: consensus switches to it once the checkpoint
      // at `at` is stable.
      const set = activeValidators(next, at + 1).map((v) => [v.publicKey, v.orgId]);
      ctx.emit({ kind: 'validatorSetChange', data: [at, set, proposalId] });
      return;
    }
    case 4:
      writeRecord(s, Keys.params(), Codec.params, { ...(await readParams(s)), [p.name]: p.value });
      ctx.emit({ kind: 'parameterChanged', data: [p.name, p.value, proposalId] });
      return;
  }
}

async function countAndMaybeExecute(env: HandlerEnv, id: Uint8Array, rec: ProposalRecord) {
  const orgs = (await readRecord(env.ctx.state, Keys.orgList(), Codec.strings)) ?? [];
  // Approvals from organisations that still exist (organisations are never removed today, but the count
  // must not trust the stored list blindly).
  const valid = rec.approvals.filter((o) => orgs.includes(o)).length;
  if (valid >= governanceQuorum(orgs.length)) {
    const p = proposalOf(rec.proposal);
    await checkExecutable(env, p);
    await execute(env, p, id);
    rec = { ...rec, executedAt: env.ctx.blockTime };
  }
  writeRecord(env.ctx.state, Keys.proposal(id), Codec.proposal, rec);
}

/** The proposal id is the transaction id; the proposer's organisation approves implicitly. */
export async function proposeGovernance(env: HandlerEnv, b: BodyOf<1>) {
  const admin = await activeActor(env, Role.orgAdmin, RejectCode.NOT_ORG_ADMIN);
  await checkExecutable(env, b.proposal);
  const rec: ProposalRecord = {
    proposal: encodeBody(b)[0]!,
    proposer: env.sender,
    proposedAt: env.ctx.blockTime,
    expiresAt: env.ctx.blockTime + env.params.governanceTtlMs,
    approvals: [admin.orgId],
    executedAt: null,
  };
  await countAndMaybeExecute(env, env.ctx.txId, rec);
}

export async function approveGovernance(env: HandlerEnv, b: BodyOf<2>) {
  const admin = await activeActor(env, Role.orgAdmin, RejectCode.NOT_ORG_ADMIN);
  const rec = await readRecord(env.ctx.state, Keys.proposal(b.proposalId), Codec.proposal);
  if (!rec) reject(RejectCode.UNKNOWN_PROPOSAL);
  if (rec.executedAt !== null) reject(RejectCode.PROPOSAL_EXECUTED);
  if (rec.expiresAt <= env.ctx.blockTime) reject(RejectCode.PROPOSAL_EXPIRED);
  if (rec.approvals.includes(admin.orgId)) reject(RejectCode.ALREADY_APPROVED);
  await countAndMaybeExecute(env, b.proposalId, {
    ...rec,
    approvals: [...rec.approvals, admin.orgId].sort(),
  });
}
