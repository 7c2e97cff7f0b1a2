// Shared JSON Schemas of the API (validation by fastify/ajv, and the OpenAPI document).
export const hex32 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

export const problemResponses = {
  400: { description: 'Bad request (problem)', $ref: 'Problem#' },
  404: { description: 'Not found (problem)', $ref: 'Problem#' },
} as const;

/** A permissive object schema for documentation: the serializer must not drop fields. */
export function anyObject(description: string) {
  return { description, type: 'object', additionalProperties: true } as const;
}

export const signedHeaders = {
  type: 'object',
  properties: {
    'x-vigil-key': { type: 'string', description: 'caller public key, 64 hex' },
    'x-vigil-timestamp': { type: 'string', description: 'ms since the epoch' },
    'x-vigil-nonce': { type: 'string', description: '16..64 hex, never reused' },
    'x-vigil-purpose': {
      type: 'string',
      description: '1 treatment, 2 research, 3 emergency',
    },
    'x-vigil-signature': { type: 'string', description: 'ed25519 signature, 128 hex' },
  },
} as const;

export const jsonTransactionSchema = {
  type: 'object',
  description: 'JSON form of a signed transaction (docs/api.md, "JSON transactions")',
  required: ['chainId', 'type', 'sender', 'nonce', 'timestamp', 'body', 'signature'],
  properties: {
    version: { type: 'integer', enum: [1] },
    chainId: { type: 'string', maxLength: 64 },
    type: { anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 32 }] },
    sender: hex32,
    nonce: { type: 'integer', minimum: 0 },
    timestamp: { type: 'integer', minimum: 0 },
    body: { type: 'object' },
    signature: { type: 'string', pattern: '^[0-9a-f]{128}$' },
  },
  additionalProperties: false,
} as const;
