// Client of the node's HTTP API (contract: docs/sensor-client.md, "API assumptions"). Browser-safe: only
// fetch, AbortSignal and timers. Failover: requests go to the node that last answered; on a transport
// failure, a timeout, a 5xx or 429, or a retryable problem code, the next node is tried; after a whole
// round of failures we back off (full jitter) and go round again, up to `maxRounds`, then throw
// NO_NODE_AVAILABLE. Every response is hostile input: size-bounded, shape-checked, typed errors.

import { DEFAULT_BACKOFF, type BackoffOptions, backoffDelay } from './backoff.ts';
import { SdkError } from './errors.ts';

/** Problem codes that mean "this node cannot take it now", not "this transaction is wrong". */
export const RETRYABLE_PROBLEMS: ReadonlySet<string> = new Set([
  'MEMPOOL_FULL',
  'RATE_LIMITED',
  'UNAVAILABLE',
]);

export type SubmitResult =
  | { ok: true; id: string; duplicate: boolean }
  | { ok: false; code: string; title: string; status: number };

export interface AccountInfo {
  nonce: number;
  pendingNonce: number;
}

export type TxStatus = 'pending' | 'committed' | 'rejected' | 'unknown';

export interface TxStatusInfo {
  id: string;
  status: TxStatus;
  height?: number;
  code?: string;
}

export interface NodeStatus {
  chainId: string;
  /**
   * The chain's genesis hash (64 hex): tells apart chains that share a chain id. Absent from nodes that
   * predate it.
   */
  genesisHash?: string;
  height: number;
  view: number;
  /** The node's clock, ms. */
  time: number;
}

export interface ProofResponse {
  /**
   * The transaction bytes (hex). The node leaves them out when they name a patient and the request is
   * not signed by someone allowed to read them: the caller then verifies with the bytes it holds
   * (VerifyProofOptions.txBytes), e.g. a device checking its own submission.
   */
  tx?: string;
  /** RFC 9162 leaf hash of the transaction bytes (hex); informative, verification recomputes it. */
  leaf?: string;
  index: number;
  proof: string[];
  header: string;
  certificate: string;
  /**
   * ADR 0123, on a chain whose genesis sets `consensus.receiptsRoots`: the canonical receipt (hex), its
   * RFC 9162 audit path to `receiptsRoot` at position `index`, and that root.
   */
  receipt?: string;
  receiptProof?: string[];
  receiptsRoot?: string;
  /** The state proof of the block's receipts root; absent until a certified header cites a state that holds it. */
  outcome?: ProofOutcome;
}

/** `outcome` of a proof response: a sparse-Merkle proof under the header of block `height`. */
export interface ProofOutcome {
  /** Encoded state proof (hex, @vigil/consensus/proof codec). */
  stateProof: string;
  /** Height of the certified block whose header cites the state. */
  height: number;
  header: string;
  certificate: string;
  /** The state the header cites (the state after this block). */
  stateHeight: number;
  /** The state the proof was read from (stateHeight rounded down to the state-root interval, ADR 0117). */
  stateAsOf?: number;
}

/**
 * `GET /v1/proofs/{key}` (docs/api.md): a sparse-Merkle proof of one state key (its value, or its
 * absence) with the certified header it verifies against. The node also names the validator set
 * (`validators`); a client that trusts only a provisioned set ignores it, so it is not kept here.
 */
export interface StateProofResponse {
  /** The state key (hex), as asked. */
  key: string;
  /** The value (hex), or null when the proof shows the key absent. */
  value: string | null;
  /** Encoded state proof (hex, @vigil/consensus/proof codec). */
  proof: string;
  /** The block whose header (and commit certificate) the proof verifies against. */
  height: number;
  header: string;
  certificate: string;
  /** The state the header cites (the state after this block). */
  stateHeight: number;
  /** The state the proof was read from (stateHeight rounded down to the state-root interval, ADR 0117). */
  stateAsOf?: number;
}

export interface NodeClientOptions {
  nodes: readonly string[];
  fetch?: typeof fetch;
  /** Per-request timeout, ms. */
  timeoutMs?: number;
  backoff?: BackoffOptions;
  /** Rounds over all nodes before giving up; 1 = try each node once, no sleeping. */
  maxRounds?: number;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Largest response body accepted, bytes. */
  maxResponseBytes?: number;
  /** Longest Retry-After honoured, ms (default 5 min): a node may slow a device down, not park it. */
  maxRetryAfterMs?: number;
  /** Clock for Retry-After deadlines, ms. */
  now?: () => number;
}

export const DEFAULT_MAX_RETRY_AFTER_MS = 300_000;

const HEX_ID = /^[0-9a-f]{64}$/;

interface RawResponse {
  status: number;
  contentType: string;
  body: string;
}

class Retryable extends Error {
  /** The node's Retry-After, ms, when it sent one. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

/** RFC 9110 §10.2.3 Retry-After: delay-seconds or an HTTP-date; undefined when absent or invalid. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export class NodeClient {
  readonly nodes: readonly string[];
  private preferred = 0;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly backoff: BackoffOptions;
  private readonly maxRounds: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxResponseBytes: number;
  private readonly maxRetryAfterMs: number;
  private readonly now: () => number;
  /** Per node: no request before this time (its Retry-After), ms. */
  private readonly notBefore: number[];

  constructor(opts: NodeClientOptions) {
    if (opts.nodes.length === 0) throw new SdkError('USAGE', 'at least one node URL is required');
    this.nodes = opts.nodes.map((u) => u.replace(/\/+$/, ''));
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.maxRounds = opts.maxRounds ?? 3;
    this.random = opts.random ?? Math.random;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.maxResponseBytes = opts.maxResponseBytes ?? 4 << 20;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
    this.now = opts.now ?? Date.now;
    this.notBefore = this.nodes.map(() => Number.NEGATIVE_INFINITY);
  }

  /**
   * How long until some node may be asked again, ms: 0 unless every node answered 429/503 with a
   * Retry-After that has not passed yet. A caller backing off waits at least this long.
   */
  get retryAfterMs(): number {
    return Math.max(0, Math.min(...this.notBefore) - this.now());
  }

  /** The node that answered last (requests start there). */
  get currentNode(): string {
    return this.nodes[this.preferred]!;
  }

  /** POST one signed transaction (application/cbor). */
  async submit(tx: Uint8Array, opts: { wait?: 'commit' } = {}): Promise<SubmitResult> {
    const path = '/v1/transactions' + (opts.wait ? '?wait=commit' : '');
    const res = await this.request('POST', path, tx, 'application/cbor');
    if (res.status === 202 || res.status === 200) {
      const j = parseJson(res);
      return { ok: true, id: hexId(j.id), duplicate: false };
    }
    return problemResult(res);
  }

  /** POST several signed transactions as one RFC 8742 CBOR sequence; one result per transaction. */
  async submitBatch(txs: readonly Uint8Array[]): Promise<SubmitResult[]> {
    let len = 0;
    for (const tx of txs) len += tx.length;
    const body = new Uint8Array(len);
    let off = 0;
    for (const tx of txs) {
      body.set(tx, off);
      off += tx.length;
    }
    const res = await this.request('POST', '/v1/transactions', body, 'application/cbor-seq');
    if (res.status !== 202 && res.status !== 200) {
      // The whole batch was refused (e.g. MALFORMED sequence): every transaction gets that problem.
      const p = problemResult(res);
      return txs.map(() => p);
    }
    const j = parseJson(res);
    if (!Array.isArray(j.results) || j.results.length !== txs.length) {
      throw new SdkError('MALFORMED_RESPONSE', 'batch results do not match the transactions sent');
    }
    return (j.results as unknown[]).map((r): SubmitResult => {
      const o = obj(r);
      if (o.error !== undefined) {
        const e = obj(o.error);
        const code = str(e.code, 'error.code');
        if (code === 'DUPLICATE_TX')
          return { ok: true, id: o.id === undefined ? '' : hexId(o.id), duplicate: true };
        // Each refusal carries its own HTTP status (docs/api.md): the sequence itself is 202, but an
        // ACCOUNT_LIMIT inside it is a 429 and a MEMPOOL_FULL a 503, and callers classify on that.
        const status =
          typeof e.status === 'number' && Number.isInteger(e.status) && e.status >= 400 && e.status <= 599
            ? e.status
            : res.status;
        return { ok: false, code, title: typeof e.title === 'string' ? e.title : code, status };
      }
      return { ok: true, id: hexId(o.id), duplicate: false };
    });
  }

  async account(publicKeyHex: string): Promise<AccountInfo> {
    const j = await this.getJson(`/v1/accounts/${publicKeyHex}`);
    return { nonce: nat(j.nonce, 'nonce'), pendingNonce: nat(j.pendingNonce, 'pendingNonce') };
  }

  async txStatus(idHex: string): Promise<TxStatusInfo> {
    const res = await this.request('GET', `/v1/transactions/${idHex}`);
    if (res.status === 404) return { id: idHex, status: 'unknown' };
    const j = this.okJson(res);
    const status = j.status;
    if (status !== 'pending' && status !== 'committed' && status !== 'rejected' && status !== 'unknown') {
      throw new SdkError('MALFORMED_RESPONSE', `unknown transaction status ${String(status)}`);
    }
    const out: TxStatusInfo = { id: idHex, status };
    if (j.height !== undefined) out.height = nat(j.height, 'height');
    if (typeof j.code === 'string') out.code = j.code;
    return out;
  }

  async status(): Promise<NodeStatus> {
    const j = await this.getJson('/v1/status');
    if (j.genesisHash !== undefined && (typeof j.genesisHash !== 'string' || !HEX_ID.test(j.genesisHash))) {
      throw new SdkError('MALFORMED_RESPONSE', 'genesisHash must be 64 lower-case hex digits');
    }
    return {
      chainId: str(j.chainId, 'chainId'),
      ...(j.genesisHash === undefined ? {} : { genesisHash: j.genesisHash as string }),
      height: nat(j.height, 'height'),
      view: nat(j.view, 'view'),
      time: nat(j.time, 'time'),
    };
  }

  /**
   * The inclusion proof of a committed transaction. With `node` (one of `nodes`), asks that node only,
   * without failover: a device checking a commit wants each node's own answer, so that one lying node
   * cannot hide behind another (NO_NODE_AVAILABLE if it does not answer).
   */
  async proof(idHex: string, opts: { node?: string } = {}): Promise<ProofResponse> {
    const path = `/v1/transactions/${idHex}/proof`;
    const j = this.okJson(
      opts.node === undefined
        ? await this.request('GET', path)
        : await this.requestAt(opts.node, 'GET', path),
    );
    if (!Array.isArray(j.proof) || !j.proof.every((p) => typeof p === 'string')) {
      throw new SdkError('MALFORMED_RESPONSE', 'proof must be an array of hex strings');
    }
    return {
      ...(j.tx === undefined ? {} : { tx: str(j.tx, 'tx') }),
      ...(j.leaf === undefined ? {} : { leaf: str(j.leaf, 'leaf') }),
      index: nat(j.index, 'index'),
      proof: j.proof as string[],
      header: str(j.header, 'header'),
      certificate: str(j.certificate, 'certificate'),
      ...(j.receipt === undefined ? {} : { receipt: hex(j.receipt, 'receipt') }),
      ...(j.receiptProof === undefined ? {} : { receiptProof: hexList(j.receiptProof, 'receiptProof') }),
      ...(j.receiptsRoot === undefined ? {} : { receiptsRoot: hex(j.receiptsRoot, 'receiptsRoot') }),
      ...(j.outcome === undefined ? {} : { outcome: proofOutcome(j.outcome) }),
    };
  }

  /**
   * The state proof of `keyHex` (`GET /v1/proofs/{key}`), from `node` only when given (no failover: a
   * device weighing nodes' claims wants each node's own answer). Shape-checked; verify it with the
   * trust anchor (verifyAccountNonce for an account's nonce).
   */
  async stateProof(keyHex: string, opts: { node?: string } = {}): Promise<StateProofResponse> {
    if (!HEX.test(keyHex) || keyHex.length === 0) throw new SdkError('USAGE', 'a state key is hex');
    const path = `/v1/proofs/${keyHex.toLowerCase()}`;
    const j = this.okJson(
      opts.node === undefined
        ? await this.request('GET', path)
        : await this.requestAt(opts.node, 'GET', path),
    );
    return {
      key: hex(j.key, 'key'),
      value: j.value === null ? null : hex(j.value, 'value'),
      proof: hex(j.proof, 'proof'),
      height: nat(j.height, 'height'),
      header: hex(j.header, 'header'),
      certificate: hex(j.certificate, 'certificate'),
      stateHeight: nat(j.stateHeight, 'stateHeight'),
      ...(j.stateAsOf === undefined ? {} : { stateAsOf: nat(j.stateAsOf, 'stateAsOf') }),
    };
  }

  /**
   * Moves future requests off `node` when it is the one they start at: the device calls this when the
   * node claimed a commit it could not prove, so that resends and status queries go to another node.
   */
  avoid(node: string): void {
    const idx = this.nodes.indexOf(node.replace(/\/+$/, ''));
    if (idx === this.preferred && this.nodes.length > 1) this.preferred = (idx + 1) % this.nodes.length;
  }

  private async getJson(path: string): Promise<Record<string, unknown>> {
    return this.okJson(await this.request('GET', path));
  }

  private okJson(res: RawResponse): Record<string, unknown> {
    if (res.status !== 200) {
      const p = problemResult(res);
      if (p.ok) throw new SdkError('MALFORMED_RESPONSE', 'unexpected success');
      throw new SdkError('REJECTED', p.title, { problemCode: p.code, status: p.status });
    }
    return parseJson(res);
  }

  /** One logical request with failover and backoff; returns the first non-retryable response. */
  private async request(
    method: string,
    path: string,
    body?: Uint8Array,
    contentType?: string,
  ): Promise<RawResponse> {
    let lastError = '';
    for (let round = 0; round < this.maxRounds; round++) {
      // Full jitter, but never before the earliest Retry-After: an overloaded or rate-limiting node
      // that says when to come back is not asked earlier (RFC 9110 §10.2.3).
      if (round > 0)
        await this.sleep(Math.max(backoffDelay(round - 1, this.backoff, this.random), this.retryAfterMs));
      for (let k = 0; k < this.nodes.length; k++) {
        const idx = (this.preferred + k) % this.nodes.length;
        const wait = this.notBefore[idx]! - this.now();
        if (wait > 0) {
          lastError = `${this.nodes[idx]}: Retry-After, ${Math.ceil(wait)} ms left`;
          continue;
        }
        try {
          const res = await this.once(this.nodes[idx]!, method, path, body, contentType);
          this.preferred = idx;
          this.notBefore[idx] = Number.NEGATIVE_INFINITY;
          return res;
        } catch (e) {
          lastError = `${this.nodes[idx]}: ${(e as Error).message}`;
          if (e instanceof Retryable && e.retryAfterMs !== undefined) {
            this.notBefore[idx] = this.now() + Math.min(e.retryAfterMs, this.maxRetryAfterMs);
          }
        }
      }
    }
    throw new SdkError('NO_NODE_AVAILABLE', `no node answered ${method} ${path} (last: ${lastError})`);
  }

  /** One request to one node, honouring its Retry-After; no failover, no change of preferred node. */
  private async requestAt(node: string, method: string, path: string): Promise<RawResponse> {
    const idx = this.nodes.indexOf(node.replace(/\/+$/, ''));
    if (idx < 0) throw new SdkError('USAGE', `${node} is not a configured node`);
    const wait = this.notBefore[idx]! - this.now();
    if (wait > 0) {
      throw new SdkError('NO_NODE_AVAILABLE', `${this.nodes[idx]}: Retry-After, ${Math.ceil(wait)} ms left`);
    }
    try {
      const res = await this.once(this.nodes[idx]!, method, path);
      this.notBefore[idx] = Number.NEGATIVE_INFINITY;
      return res;
    } catch (e) {
      if (e instanceof Retryable && e.retryAfterMs !== undefined) {
        this.notBefore[idx] = this.now() + Math.min(e.retryAfterMs, this.maxRetryAfterMs);
      }
      if (e instanceof SdkError) throw e;
      throw new SdkError('NO_NODE_AVAILABLE', `${this.nodes[idx]}: ${(e as Error).message}`);
    }
  }

  private async once(
    base: string,
    method: string,
    path: string,
    body?: Uint8Array,
    contentType?: string,
  ): Promise<RawResponse> {
    const init: RequestInit = { method, signal: AbortSignal.timeout(this.timeoutMs) };
    if (body) {
      init.body = body as unknown as BodyInit;
      init.headers = { 'content-type': contentType ?? 'application/cbor', accept: 'application/json' };
    }
    const r = await this.fetchFn(base + path, init);
    const text = await readBounded(r, this.maxResponseBytes);
    const res = { status: r.status, contentType: r.headers.get('content-type') ?? '', body: text };
    const retryAfter =
      r.status === 429 || r.status === 503
        ? parseRetryAfter(r.headers.get('retry-after'), this.now())
        : undefined;
    if (r.status >= 500 || r.status === 429) {
      throw new Retryable(`HTTP ${r.status}`, retryAfter);
    }
    if (r.status >= 400) {
      const p = problemResult(res);
      if (!p.ok && RETRYABLE_PROBLEMS.has(p.code)) throw new Retryable(p.code, retryAfter);
    }
    return res;
  }
}

async function readBounded(r: Response, max: number): Promise<string> {
  const declared = Number(r.headers.get('content-length') ?? '0');
  if (declared > max) throw new SdkError('MALFORMED_RESPONSE', 'response too large');
  if (!r.body) return '';
  const reader = r.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > max) {
      await reader.cancel();
      throw new SdkError('MALFORMED_RESPONSE', 'response too large');
    }
    chunks.push(value);
  }
  const all = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(all);
}

function parseJson(res: RawResponse): Record<string, unknown> {
  try {
    return obj(JSON.parse(res.body));
  } catch (e) {
    if (e instanceof SdkError) throw e;
    throw new SdkError('MALFORMED_RESPONSE', `HTTP ${res.status}: body is not JSON`);
  }
}

/** RFC 9457 problem details -> a failed SubmitResult; DUPLICATE_TX is success (idempotent resend). */
function problemResult(res: RawResponse): SubmitResult {
  let code = `HTTP_${res.status}`;
  let title = `HTTP ${res.status}`;
  try {
    const j = obj(JSON.parse(res.body));
    if (typeof j.code === 'string' && j.code.length <= 64) code = j.code;
    if (typeof j.title === 'string') title = j.title.slice(0, 200);
    if (code === 'DUPLICATE_TX') {
      return { ok: true, id: typeof j.id === 'string' && HEX_ID.test(j.id) ? j.id : '', duplicate: true };
    }
  } catch {
    // A non-JSON error body keeps the HTTP status as its code.
  }
  return { ok: false, code, title, status: res.status };
}

function obj(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new SdkError('MALFORMED_RESPONSE', 'expected a JSON object');
  }
  return v as Record<string, unknown>;
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new SdkError('MALFORMED_RESPONSE', `${field} must be a string`);
  return v;
}

function nat(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new SdkError('MALFORMED_RESPONSE', `${field} must be a non-negative integer`);
  }
  return v;
}

// The outcome fields decide whether a device may forget readings: refuse anything but the documented
// shape here, so the verifier only ever sees strings that are hex and heights that are integers.
const HEX = /^(?:[0-9a-f]{2})*$/i;

function hex(v: unknown, field: string): string {
  if (typeof v !== 'string' || !HEX.test(v)) {
    throw new SdkError('MALFORMED_RESPONSE', `${field} must be a hex string`);
  }
  return v;
}

function hexList(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw new SdkError('MALFORMED_RESPONSE', `${field} must be an array of hex strings`);
  return v.map((x, i) => hex(x, `${field}[${i}]`));
}

function proofOutcome(v: unknown): ProofOutcome {
  const o = obj(v);
  return {
    stateProof: hex(o.stateProof, 'outcome.stateProof'),
    height: nat(o.height, 'outcome.height'),
    header: hex(o.header, 'outcome.header'),
    certificate: hex(o.certificate, 'outcome.certificate'),
    stateHeight: nat(o.stateHeight, 'outcome.stateHeight'),
    ...(o.stateAsOf === undefined ? {} : { stateAsOf: nat(o.stateAsOf, 'outcome.stateAsOf') }),
  };
}

function hexId(v: unknown): string {
  if (typeof v !== 'string' || !HEX_ID.test(v))
    throw new SdkError('MALFORMED_RESPONSE', 'id must be 64 hex digits');
  return v;
}
