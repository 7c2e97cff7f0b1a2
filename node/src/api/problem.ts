// RFC 9457 problem details: every error the API returns is application/problem+json with a stable
// `code` that clients switch on (the title is for people and may change). Handlers throw ApiError (or
// a typed error of a lower layer that the server's error handler maps); nothing else reaches a client,
// and never a stack trace.
import type { FastifyReply } from 'fastify';

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
}

export const PROBLEM_BASE = 'https://vigil.dev/problems/';

export function problem(status: number, code: string, title: string, detail?: string): Problem {
  const p: Problem = {
    type: `${PROBLEM_BASE}${code.toLowerCase().replaceAll('_', '-')}`,
    title,
    status,
    code,
  };
  if (detail !== undefined) p.detail = detail;
  return p;
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).header('content-type', 'application/problem+json; charset=utf-8').send(p);
}

/** A refusal with a stable code, thrown by route handlers and rendered as a problem. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string | undefined;
  /** Seconds for a `retry-after` header, for refusals that say "not now". */
  readonly retryAfterS: number | undefined;
  constructor(status: number, code: string, title: string, detail?: string, retryAfterS?: number) {
    super(detail ?? title);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.retryAfterS = retryAfterS;
  }
}

/** HTTP status for a transaction admission rejection code (mempool) or a JSON-form error. */
export function statusForTxCode(code: string): number {
  switch (code) {
    case 'MEMPOOL_FULL':
      return 503;
    case 'ACCOUNT_LIMIT':
      return 429;
    case 'DUPLICATE_TX':
    case 'NONCE_TAKEN':
      return 409;
    case 'TX_TOO_LARGE':
      return 413;
    default:
      return 400;
  }
}

/** JSON Schema of a problem document (OpenAPI). */
export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details; switch on `code`',
  required: ['type', 'title', 'status', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string' },
    detail: { type: 'string' },
  },
  additionalProperties: true,
} as const;
