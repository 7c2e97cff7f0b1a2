// Small durable-write helpers (Node only). A file is only durable once its data AND the directory entry
// naming it are on disk: fsync the file, then fsync the directory after create/rename (POSIX rename(2)
// is atomic but not durable until the parent directory is synced; see also LevelDB/SQLite practice).

import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` atomically: a reader (or a crash) sees either the old contents or the new, never a mix. */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o600): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}
