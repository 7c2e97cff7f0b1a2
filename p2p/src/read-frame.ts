// Read exactly one frame from a request/response stream, with a deadline. Used by both ends of the
// sync and status protocols (one stream per request).

import type { Stream, StreamMessageEvent } from '@libp2p/interface';
import { P2PError, P2PErrorCode } from './errors.ts';
import { type DecodeOptions, FrameDecoder, type FrameLimits } from './frame.ts';

export function readOneFrame(
  stream: Stream,
  limits: FrameLimits,
  signal: AbortSignal,
  options: DecodeOptions = {},
): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const decoder = new FrameDecoder(limits, options);
    const cleanup = () => {
      stream.removeEventListener('message', onMessage);
      stream.removeEventListener('close', onClosed);
      stream.removeEventListener('end', onClosed);
      signal.removeEventListener('abort', onAbort);
    };
    const onMessage = (evt: StreamMessageEvent) => {
      const { batches, error } = decoder.push(evt.data);
      if (error !== undefined) {
        cleanup();
        reject(error);
      } else if (batches.length > 0) {
        cleanup();
        resolve(batches[0]!);
      }
    };
    const onClosed = () => {
      cleanup();
      reject(new P2PError(P2PErrorCode.remoteError, 'stream ended before a complete frame arrived'));
    };
    const onAbort = () => {
      cleanup();
      reject(new P2PError(P2PErrorCode.timeout, 'request timed out'));
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    stream.addEventListener('message', onMessage);
    stream.addEventListener('close', onClosed);
    stream.addEventListener('end', onClosed);
    signal.addEventListener('abort', onAbort);
  });
}
