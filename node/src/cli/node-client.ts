// The CLI's HTTP client of a Vigil node: JSON and CBOR requests, signed reads, and typed errors that
// the CLI turns into exit codes and one-line messages (never a stack trace).
import { type Signer, toHex } from '@vigil/consensus/wire';
import { signRequest } from '../api/signed-request-client.ts';

export class CliError extends Error {
  readonly code: string;
  /** Process exit code (vigil.ts ExitCode). */
  readonly exit: number;
  readonly status: number | undefined;
  constructor(code: string, message: string, exit: number, status?: number) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exit = exit;
    this.status = status;
  }
}

/** Exit codes (docs/cli.md). */
export const ExitCode = { ok: 0, failure: 1, usage: 2, config: 3, refused: 4, unavailable: 5 } as const;

const MAX_RESPONSE_BYTES = 16 << 20;

export class NodeClient {
  readonly base: string;
  readonly timeoutMs: number;
  constructor(base: string, timeoutMs = 60_000) {
    let url: URL;
    try {
      url = new URL(base);
    } catch {
      throw new CliError(
        'USAGE',
        `--node must be a URL, e.g. http://127.0.0.1:7701 (got ${base})`,
        ExitCode.usage,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CliError('USAGE', '--node must be an http:// or https:// URL', ExitCode.usage);
    }
    this.base = base.replace(/\/+$/, '');
    this.timeoutMs = timeoutMs;
  }

  async #fetch(target: string, init: RequestInit): Promise<{ status: number; body: unknown }> {
    let res: Response;
    try {
      res = await fetch(this.base + target, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      const why = (e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      throw new CliError('UNREACHABLE', `cannot reach ${this.base}: ${why}`, ExitCode.unavailable);
    }
    const text = await res.text();
    if (text.length > MAX_RESPONSE_BYTES)
      throw new CliError('BAD_RESPONSE', 'response too large', ExitCode.failure);
    let body: unknown = text;
    if (/json/.test(res.headers.get('content-type') ?? '')) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new CliError('BAD_RESPONSE', `${target}: the node's JSON does not parse`, ExitCode.failure);
      }
    }
    if (res.status >= 400) {
      const p = body as { code?: string; title?: string; detail?: string };
      const code = typeof p?.code === 'string' ? p.code : `HTTP_${res.status}`;
      const msg =
        [p?.title, p?.detail].filter((x) => typeof x === 'string').join(': ') || `HTTP ${res.status}`;
      const exit = res.status >= 500 || res.status === 429 ? ExitCode.unavailable : ExitCode.refused;
      throw new CliError(code, msg, exit, res.status);
    }
    return { status: res.status, body };
  }

  async get<T = Record<string, unknown>>(target: string): Promise<T> {
    return (await this.#fetch(target, { headers: { accept: 'application/json' } })).body as T;
  }

  /** A read signed with the caller's key (docs/api.md, "Signed requests"). */
  async signedGet<T = Record<string, unknown>>(
    target: string,
    chainId: string,
    signer: Signer,
    purpose = 1,
  ): Promise<T> {
    const headers = signRequest({ chainId, signer, method: 'GET', target, purpose });
    return (await this.#fetch(target, { headers: { accept: 'application/json', ...headers } })).body as T;
  }

  async submit(bytes: Uint8Array, wait: boolean): Promise<{ status: number; body: Record<string, unknown> }> {
    const r = await this.#fetch(`/v1/transactions${wait ? '?wait=commit&timeoutMs=60000' : ''}`, {
      method: 'POST',
      headers: { 'content-type': 'application/cbor', accept: 'application/json' },
      body: bytes as unknown as BodyInit,
    });
    return r as { status: number; body: Record<string, unknown> };
  }

  async nextNonce(key: Uint8Array): Promise<number> {
    const a = await this.get<{ pendingNonce: number }>(`/v1/accounts/${toHex(key)}`);
    return a.pendingNonce + 1;
  }
}
