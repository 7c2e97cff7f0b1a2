// The CLI's query commands: each fetches from a node and renders a human summary (or the raw JSON
// with --json). Patient-data queries are signed with --key; proofs are verified locally.
import {
  type OutcomeProofJson,
  outcomeProofFromJson,
  type Receipt,
  verifyTransactionOutcome,
  verifyTransactionProof,
} from '@vigil/consensus/proof';
import {
  decodeBlockHeader,
  decodeCommitCertificate,
  fromHex,
  referenceVerifier,
  type Signer,
} from '@vigil/consensus/wire';
import { ReadingKind, readingKindSpec } from '@vigil/consensus/vitals/index.ts';
import { loadGenesis, validatorKeys } from '../validator/genesis-file.ts';
import { int, purpose, required, UsageError } from './args.ts';
import type { Values } from './actions.ts';
import { CliError, ExitCode, type NodeClient } from './node-client.ts';

// The node's JSON is rendered field by field for people; --json prints it untouched.
// biome-ignore lint/suspicious/noExplicitAny: untyped response JSON, only read for display
type J = { [k: string]: any };
const s = (v: Values, k: string) => v[k] as string | undefined;
const iso = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toISOString() : String(ms));
const short = (h: unknown) => (typeof h === 'string' && h.length > 16 ? `${h.slice(0, 12)}…` : String(h));

export interface QueryEnv {
  client: NodeClient;
  values: Values;
  positionals: string[];
  /** Signer from --key (signed queries only). */
  signer: () => Signer;
  chainId: () => Promise<string>;
}

/**
 * A wire integer as the physical value the commands take on input (`--reading temperature=36.8`
 * travels as 368): the node answers wire values, and `368 Cel` misread a normal temperature.
 */
export function physical(kind: unknown, value: unknown): string {
  const spec = typeof kind === 'number' ? readingKindSpec(kind) : undefined;
  if (spec === undefined || typeof value !== 'number') return String(value);
  return (value / spec.scale).toFixed(Math.round(Math.log10(spec.scale)));
}

/** A transaction id, checked here: the node would answer INVALID_REQUEST, which exits 4, not 2. */
function txId(v: string | undefined, name: string): string {
  const id = required(v, name);
  if (!/^[0-9a-f]{64}$/.test(id))
    throw new UsageError(
      `${name === 'id' ? 'ID' : `--${name}`} must be a transaction id: 64 lower-case hex characters`,
    );
  return id;
}

function patientPath(v: Values, tail: string): string {
  const p = required(s(v, 'patient'), 'patient');
  if (!/^[0-9a-f]{64}$/.test(p)) throw new UsageError('--patient must be 64 lower-case hex characters');
  return `/v1/patients/${p}/${tail}`;
}

/** `1 reading`, `2 readings`, `0 readings`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, x] of Object.entries(params)) if (x !== undefined) q.set(k, String(x));
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** Each query returns the JSON result and its human rendering. */
export const QUERIES: Record<
  string,
  { usage: string; run: (e: QueryEnv) => Promise<{ json: unknown; text: string }> }
> = {
  status: {
    usage: '',
    run: async ({ client }) => {
      const j = await client.get<J>('/v1/status');
      const lines = [
        `chain ${j.chainId}  height ${j.height}  view ${j.view} (primary ${j.primary})  mempool ${j.mempool?.size}`,
        ...(j.validators ?? []).map(
          (v: J) =>
            `  validator ${v.index} ${short(v.publicKey)} ${v.live ? 'live' : 'DOWN'}${v.self ? ' (this node)' : ''}`,
        ),
      ];
      return { json: j, text: lines.join('\n') };
    },
  },
  block: {
    usage: 'HEIGHT',
    run: async ({ client, positionals, values }) => {
      // HEIGHT is positional: a bad one must not be reported as an option the operator never typed.
      const raw = positionals[0] ?? s(values, 'height');
      if (positionals[0] !== undefined && !/^\d+$/.test(raw!))
        throw new UsageError(`HEIGHT must be a non-negative integer (got ${raw})`);
      const h = int(raw, 'height');
      const b = await client.get<J>(`/v1/blocks/${h}`);
      const lines = [
        `block ${b.height} ${b.hash}`,
        `  view ${b.header.view}  proposer ${b.header.proposer}  time ${iso(b.header.timestamp)}  ${b.txIds.length} txs`,
        `  certified by validators ${b.certificate.votes.map((x: J) => x.validator).join(', ')}`,
        ...b.txIds.map((id: string | null, i: number) =>
          `  ${i} ${id ?? '(undecodable)'} ${b.receipts?.[i]?.status ?? ''} ${b.receipts?.[i]?.code ?? ''}`.trimEnd(),
        ),
      ];
      return { json: b, text: lines.join('\n') };
    },
  },
  tx: {
    usage: 'ID',
    run: async ({ client, positionals, values }) => {
      const id = txId(positionals[0] ?? s(values, 'id'), 'id');
      const t = await client.get<J>(`/v1/transactions/${id}`);
      const where = t.height !== undefined ? ` in block ${t.height} position ${t.position}` : '';
      return { json: t, text: `${t.id} ${t.status}${t.code ? ` (${t.code})` : ''}${where}` };
    },
  },
  readings: {
    usage:
      '--patient HEX --kind heartRate|1..8 [--from MS] [--to MS] [--limit N] [--cursor C] [--purpose P] --key FILE',
    run: async ({ client, values, signer, chainId }) => {
      const k = required(s(values, 'kind'), 'kind');
      const kind = Object.hasOwn(ReadingKind, k)
        ? ReadingKind[k as keyof typeof ReadingKind]
        : int(k, 'kind');
      const path =
        patientPath(values, 'readings') +
        query({
          kind,
          from: s(values, 'from'),
          to: s(values, 'to'),
          limit: s(values, 'limit'),
          cursor: s(values, 'cursor'),
        });
      const r = await client.signedGet<J>(path, await chainId(), signer(), purpose(s(values, 'purpose')));
      const lines = r.items.map(
        (x: J) =>
          `${iso(x.measuredAt)}  ${physical(x.kind, x.value)} ${x.unit}${x.source ? `  from ${short(x.source)}` : ''}`,
      );
      lines.push(
        `(${plural(r.items.length, 'reading')} via ${r.access.via}${r.next ? `; more: --cursor ${r.next}` : ''})`,
      );
      return { json: r, text: lines.join('\n') };
    },
  },
  alerts: {
    usage: '--patient HEX [--open] [--purpose P] --key FILE',
    run: async ({ client, values, signer, chainId }) => {
      const path = patientPath(values, 'alerts') + query({ open: values.open === true ? 'true' : undefined });
      const r = await client.signedGet<J>(path, await chainId(), signer(), purpose(s(values, 'purpose')));
      const lines = r.items.map(
        (a: J) =>
          `#${a.seq} ${a.status} ${a.cause}${a.value !== null ? ` value ${physical(a.kind, a.value)}` : ''}${a.news2Total !== null ? ` NEWS2 ${a.news2Total}` : ''}  ${iso(a.raisedAt)}`,
      );
      if (lines.length === 0) lines.push('no alerts');
      return { json: r, text: lines.join('\n') };
    },
  },
  audit: {
    usage: '--patient HEX [--from-height N] --key FILE   (patient or guardian)',
    run: async ({ client, values, signer, chainId }) => {
      const path = patientPath(values, 'audit') + query({ fromHeight: s(values, 'from-height') });
      const r = await client.signedGet<J>(path, await chainId(), signer());
      const lines = r.items.map(
        (i: J) =>
          `${iso(i.at)}  block ${i.height}  ${i.event}  by ${short(i.actor)}${i.categories.length ? `  [${i.categories.join(', ')}]` : ''}`,
      );
      if (lines.length === 0) lines.push('audit trail empty');
      return { json: r, text: lines.join('\n') };
    },
  },
  consents: {
    usage: '--patient HEX --key FILE   (patient or guardian)',
    run: async ({ client, values, signer, chainId }) => {
      const r = await client.signedGet<J>(patientPath(values, 'consents'), await chainId(), signer());
      const lines = [
        `research opt-in: ${r.researchOptIn ? 'yes' : 'no'}; guardians: ${r.guardians.length}`,
        ...r.grants.map(
          (g: J) =>
            `grant ${g.grantId} to ${g.grantee.kind === 1 ? short(g.grantee.key) : `org ${g.grantee.orgId}`} [${g.scopes.join(', ')}] purpose ${g.purpose} until ${iso(g.expiresAt)}`,
        ),
        ...r.emergencies.map(
          (e: J) =>
            `break-glass ${e.accessId} by ${short(e.clinician)} (${e.reasonCode}) until ${iso(e.expiresAt)}`,
        ),
      ];
      return { json: r, text: lines.join('\n') };
    },
  },
  proof: {
    usage:
      '--tx ID [--genesis FILE] [--key FILE]   (verify locally against the validator set; --key: the signer, patient, guardian or a grantee, for a transaction that names a patient)',
    run: async ({ client, values, signer, chainId }) => {
      const id = txId(s(values, 'tx'), 'tx');
      const target = `/v1/transactions/${id}/proof`;
      // A transaction that names a patient comes with its bytes only to a signed, allowed reader.
      const p =
        s(values, 'key') !== undefined
          ? await client.signedGet<J>(target, await chainId(), signer(), purpose(s(values, 'purpose')))
          : await client.get<J>(target);
      if (typeof p.tx !== 'string') {
        throw new CliError(
          'TX_WITHHELD',
          'the node serves the bytes of a transaction that names a patient only to its signer and to readers the access rule allows: pass --key',
          ExitCode.refused,
        );
      }
      let validators: Uint8Array[];
      let trust: string;
      const g = s(values, 'genesis');
      if (g) {
        validators = validatorKeys(loadGenesis(g));
        trust = `validator set from ${g}`;
      } else {
        const st = await client.get<J>('/v1/status');
        validators = st.validators.map((v: J) => fromHex(v.publicKey as string));
        // One level of parentheses: the sentence this goes into already puts it in brackets.
        trust = 'validator set reported by the node itself; pass --genesis FILE to check against yours';
      }
      const header = decodeBlockHeader(fromHex(p.header));
      const cert = decodeCommitCertificate(fromHex(p.certificate));
      try {
        verifyTransactionProof(
          fromHex(p.tx),
          p.index,
          p.proof.map(fromHex),
          header,
          cert,
          validators,
          referenceVerifier,
        );
      } catch (e) {
        throw new CliError(
          (e as { code?: string }).code ?? 'PROOF_INVALID',
          `proof does not verify: ${(e as Error).message}`,
          ExitCode.refused,
        );
      }
      const included = `verified: ${id} is transaction ${p.index} of block ${header.height}, certified by ${cert.votes.length} of ${validators.length} validators (${trust})`;
      // ADR 0123: inclusion is not acceptance. On a chain with receipts in the state, prove the outcome.
      if (typeof p.receipt !== 'string') return { json: { ...p, verified: true }, text: included };
      if (p.outcome === undefined) {
        return {
          json: { ...p, verified: true, outcome: null },
          text: `${included}\noutcome: not certified yet (no certified header cites a state after block ${header.height}; ask again in a few seconds)`,
        };
      }
      let receipt: Receipt;
      try {
        receipt = verifyTransactionOutcome(
          { bytes: fromHex(p.tx) },
          outcomeProofFromJson(p as OutcomeProofJson)!,
          () => validators,
          referenceVerifier,
        ).receipt;
      } catch (e) {
        throw new CliError(
          (e as { code?: string }).code ?? 'PROOF_INVALID',
          `outcome proof does not verify: ${(e as Error).message}`,
          ExitCode.refused,
        );
      }
      const decided = receipt.status === 'accepted' ? 'accepted' : `rejected (${receipt.code})`;
      return {
        json: { ...p, verified: true, accepted: receipt.status === 'accepted' },
        text: `${included}\noutcome: ${decided}, proven by the state certified at block ${p.outcome.height}`,
      };
    },
  },
};
