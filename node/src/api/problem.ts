// RFC 9457 problem details: every error the API returns is application/problem+json with a stable
// `code` that clients switch on (the title is for people and may change).
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

/** HTTP status for a transaction rejection code. */
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
