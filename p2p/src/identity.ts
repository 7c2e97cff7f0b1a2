// Validator identity <-> libp2p identity. A node's libp2p key IS its validator ed25519 key (the 32-byte
// seed is the ed25519 private key, RFC 8032 §5.1.5), so the PeerId of every validator follows from the
// genesis file alone: peerIdFromPublicKey(validator public key). Nothing else has to be distributed for
// the connection gater to know who may connect.

import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { P2PError, P2PErrorCode } from './errors.ts';

export interface Identity {
  privateKey: Ed25519PrivateKey;
  peerId: PeerId;
  /** Raw 32-byte ed25519 public key (the validator key). */
  publicKey: Uint8Array;
  /** Lower-case hex of `publicKey`: how the p2p API names peers. */
  key: string;
}

export function keyHex(publicKey: Uint8Array): string {
  return Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex');
}

export async function identityFromSeed(seed: Uint8Array): Promise<Identity> {
  if (!(seed instanceof Uint8Array) || seed.byteLength !== 32) {
    throw new P2PError(P2PErrorCode.invalidConfig, 'validator seed must be 32 bytes');
  }
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed);
  const publicKey = privateKey.publicKey.raw;
  return { privateKey, peerId: peerIdFromPublicKey(privateKey.publicKey), publicKey, key: keyHex(publicKey) };
}

/** The libp2p PeerId a validator with this raw ed25519 public key must present. */
export function peerIdFromValidatorKey(publicKey: Uint8Array): PeerId {
  if (!(publicKey instanceof Uint8Array) || publicKey.byteLength !== 32) {
    throw new P2PError(P2PErrorCode.invalidConfig, 'validator public key must be 32 bytes');
  }
  try {
    return peerIdFromPublicKey(publicKeyFromRaw(publicKey));
  } catch (err) {
    throw new P2PError(P2PErrorCode.invalidConfig, 'not an ed25519 public key', { cause: err });
  }
}
