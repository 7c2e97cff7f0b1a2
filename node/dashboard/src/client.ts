// The dashboard's connection to the node it is served from (same origin): unsigned chain reads, signed
// patient-data reads (docs/api.md "Signed requests", via the node's browser-safe signRequest), and
// transactions built, signed and encoded in the browser, sent as canonical CBOR with ?wait=commit.
import { encodeTransaction, type Signer, signTransaction, toHex } from '@vigil/consensus/wire';
import { encodeBody, type TxBody } from '@vigil/consensus/wire/bodies/index.ts';
import { signRequest } from '../../src/api/signed-request-client.ts';

/** An RFC 9457 problem from the node, or a network failure (`NETWORK`). */
export class ApiProblem extends Error {
  readonly code: string;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** An entry of "grants to me" (GET /v1/me/patients, ADR 0130): what gives this key access to a patient. */
export interface AccessToMe {
  patient: string;
  via: 'grant' | 'emergency' | 'guardian';
  scopes: string[];
  purpose: number | null;
  expiresAt: number | null;
}

/** Pages of "grants to me" read at most: 20,000 entries, far beyond a clinician's patients. */
const MAX_ACCESS_PAGES = 20;

export interface CommitResult {
  id: string;
  status: 'committed' | 'rejected' | 'pending';
  height?: number;
  code?: string;
}

async function parse<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiProblem(res.status, 'BAD_RESPONSE', `The node answered ${res.status} with a non-JSON body`);
  }
  if (!res.ok) {
    const p = (body ?? {}) as { code?: string; title?: string; detail?: string };
    throw new ApiProblem(res.status, p.code ?? `HTTP_${res.status}`, p.detail ?? p.title ?? res.statusText);
  }
  return body as T;
}

async function send(input: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(input, init);
  } catch (e) {
    throw new ApiProblem(0, 'NETWORK', `Cannot reach the node: ${(e as Error).message}`);
  }
}

export class Client {
  readonly chainId: string;
  /** Node clock minus local clock, ms: signed requests must be within ±60 s of the node. */
  skewMs: number;
  private txQueue: Promise<unknown> = Promise.resolve();
  /** Transactions submitted and not yet answered (queued or sent). */
  private unanswered = 0;

  constructor(chainId: string, skewMs: number) {
    this.chainId = chainId;
    this.skewMs = skewMs;
  }

  static async connect(): Promise<Client> {
    const { chainId, skewMs } = await measureSkew();
    return new Client(chainId, skewMs);
  }

  /** Measures the offset to the node's clock again (after a sleep, or a clock step on either side). */
  async resync(): Promise<void> {
    this.skewMs = (await measureSkew()).skewMs;
  }

  now(): number {
    return Date.now() + this.skewMs;
  }

  signedHeaders(signer: Signer, method: string, target: string, purpose = 1): Record<string, string> {
    return signRequest({ chainId: this.chainId, signer, method, target, purpose, timestamp: this.now() });
  }

  async signedGet<T>(signer: Signer, target: string, purpose = 1): Promise<T> {
    const get = async () =>
      parse<T>(await send(target, { headers: this.signedHeaders(signer, 'GET', target, purpose) }));
    try {
      return await get();
    } catch (e) {
      // The offset is measured at start; a laptop that slept or a clock that was stepped since makes
      // every signed read "expired" until a reload. Measure again and retry once: a request the node
      // refused as expired was not served nor audited, so retrying it reads nothing twice.
      if (!(e instanceof ApiProblem) || e.code !== 'REQUEST_EXPIRED') throw e;
      await this.resync();
      return get();
    }
  }

  /**
   * "Grants to me" (docs/api.md, `GET /v1/me/patients`): every entry, page by page, of what gives the
   * signer access to a patient now (grants to them or their organisation, their break-glass accesses,
   * guardianships). Not a read of patient data: the node records no access for it.
   */
  async accessToMe(signer: Signer): Promise<AccessToMe[]> {
    const out: AccessToMe[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < MAX_ACCESS_PAGES; page++) {
      const target: string = `/v1/me/patients?limit=1000${cursor ? `&cursor=${cursor}` : ''}`;
      const r: { items: AccessToMe[]; next: string | null } = await this.signedGet(signer, target);
      out.push(...r.items);
      cursor = r.next;
      if (cursor === null) break;
    }
    return out;
  }

  /**
   * Signs and submits one transaction and waits for its block. Submissions from this tab are queued so
   * that nonces are consecutive; the next nonce is read from the node (`pendingNonce + 1`).
   */
  submit(signer: Signer, body: TxBody): Promise<CommitResult> {
    const run = async () => {
      const key = toHex(signer.publicKey);
      const acct = await getJson<{ nonce: number; pendingNonce: number }>(`/v1/accounts/${key}`);
      const tx = signTransaction(
        {
          version: 1,
          chainId: this.chainId,
          type: body.type,
          sender: signer.publicKey,
          nonce: acct.pendingNonce + 1,
          timestamp: this.now(),
          body: encodeBody(body),
        },
        signer,
      );
      const res = await send('/v1/transactions?wait=commit&timeoutMs=20000', {
        method: 'POST',
        headers: { 'content-type': 'application/cbor' },
        body: encodeTransaction(tx) as Uint8Array<ArrayBuffer>,
      });
      const r = await parse<CommitResult>(res);
      if (r.status === 'rejected') {
        throw new ApiProblem(400, r.code ?? 'REJECTED', `The network rejected the transaction (${r.code})`);
      }
      return r;
    };
    const p = this.txQueue.then(run, run);
    this.txQueue = p.catch(() => undefined);
    this.unanswered += 1;
    void this.txQueue.then(() => {
      this.unanswered -= 1;
    });
    return p;
  }

  /**
   * Whether a transaction from this tab is still waiting for its block: the automatic logoff waits for it
   * (idle.ts), so that a break-glass request or a consent is not signed away before its outcome shows.
   */
  get submitting(): boolean {
    return this.unanswered > 0;
  }
}

async function measureSkew(): Promise<{ chainId: string; skewMs: number }> {
  const before = Date.now();
  const s = await getJson<{ chainId: string; time: number }>('/v1/status');
  const after = Date.now();
  return { chainId: s.chainId, skewMs: Math.round(s.time - (before + after) / 2) };
}

export async function getJson<T>(target: string): Promise<T> {
  return parse<T>(await send(target));
}

export async function getText(target: string): Promise<string> {
  const res = await send(target);
  if (!res.ok) throw new ApiProblem(res.status, `HTTP_${res.status}`, res.statusText);
  return res.text();
}
