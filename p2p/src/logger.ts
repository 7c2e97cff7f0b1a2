// Minimal structured logger the node can back with pino later; the p2p layer logs events, not prose.

export interface P2PLogger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: P2PLogger = {
  info() {},
  warn() {},
};

/** JSON lines on stderr for warnings only; informational events are dropped. */
export const stderrLogger: P2PLogger = {
  info() {},
  warn(event, fields) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', component: 'p2p', event, ...fields })}\n`);
  },
};
