// The outcome proof as GET /v1/transactions/{id}/proof serves it (docs/api.md, "Outcome": hex strings)
// turned into what verifyTransactionOutcome checks. One decoder for the SDK, the CLI, the dashboard and
// the tests, so they cannot read the fields differently. Decoding checks only form (WireError,
// ProofError MALFORMED_PROOF, never anything else for hostile JSON); the proof is checked by
// verifyTransactionOutcome.
import { decodeBlockHeader, decodeCommitCertificate, fromHex } from '../wire/index.ts';
import { decodeStateProof } from './codec.ts';
import { ProofError } from './errors.ts';
import type { OutcomeProof } from './verify.ts';

/** The fields of the proof response an outcome proof is made of. */
export interface OutcomeProofJson {
  index: number;
  proof: readonly string[];
  header: string;
  certificate: string;
  receipt?: string;
  receiptProof?: readonly string[];
  receiptsRoot?: string;
  outcome?: { stateProof: string; header: string; certificate: string };
}

/** Hex from a peer or node: anything else is MALFORMED_PROOF, never a TypeError. */
function hex(v: unknown, what: string): Uint8Array {
  if (typeof v !== 'string' || v.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(v)) {
    throw new ProofError('MALFORMED_PROOF', `${what}: not a hex string`);
  }
  return fromHex(v);
}

function hexList(v: unknown, what: string): Uint8Array[] {
  if (!Array.isArray(v)) throw new ProofError('MALFORMED_PROOF', `${what}: not a list`);
  return v.map((x, i) => hex(x, `${what}[${i}]`));
}

/**
 * The OutcomeProof in a proof response, or undefined while it has no `outcome` yet (no certified state
 * holds the block's receipts root). Throws MALFORMED_PROOF for an outcome without its receipt fields.
 */
export function outcomeProofFromJson(p: OutcomeProofJson): OutcomeProof | undefined {
  if (p.outcome === undefined) return undefined;
  if (typeof p.outcome !== 'object' || p.outcome === null) {
    throw new ProofError('MALFORMED_PROOF', 'outcome: not an object');
  }
  if (p.receipt === undefined || p.receiptProof === undefined || p.receiptsRoot === undefined) {
    throw new ProofError('MALFORMED_PROOF', 'an outcome without the receipt, its path or the receipts root');
  }
  if (!Number.isSafeInteger(p.index) || p.index < 0) throw new ProofError('MALFORMED_PROOF', 'index');
  // Every field's form first, then the structures: one bad field is MALFORMED_PROOF whatever else is bad.
  const bytes = {
    txProof: hexList(p.proof, 'proof'),
    header: hex(p.header, 'header'),
    certificate: hex(p.certificate, 'certificate'),
    receipt: hex(p.receipt, 'receipt'),
    receiptProof: hexList(p.receiptProof, 'receiptProof'),
    receiptsRoot: hex(p.receiptsRoot, 'receiptsRoot'),
    stateProof: hex(p.outcome.stateProof, 'outcome.stateProof'),
    stateHeader: hex(p.outcome.header, 'outcome.header'),
    stateCertificate: hex(p.outcome.certificate, 'outcome.certificate'),
  };
  return {
    index: p.index,
    txProof: bytes.txProof,
    header: decodeBlockHeader(bytes.header),
    certificate: decodeCommitCertificate(bytes.certificate),
    receipt: bytes.receipt,
    receiptProof: bytes.receiptProof,
    receiptsRoot: bytes.receiptsRoot,
    stateProof: decodeStateProof(bytes.stateProof),
    stateHeader: decodeBlockHeader(bytes.stateHeader),
    stateCertificate: decodeCommitCertificate(bytes.stateCertificate),
  };
}
