// The dashboard's page configuration: what a node's operator sets for the web dashboard it serves,
// written into index.html as <meta> tags (the page runs no inline script under its CSP, and a meta tag
// is data, not code) and read by the page at start. Browser-safe: imported by the node, which writes it,
// and by the dashboard, which reads it, so that both agree on names, bounds and defaults.

/** Inactivity after which a signed-in tab is signed out (ADR 0127): ms, decimal. */
export const IDLE_SIGN_OUT_META = 'vigil-idle-sign-out-ms';
/**
 * 15 minutes: the common hospital workstation policy for applications holding patient data (HIPAA
 * §164.312(a)(2)(iii) asks for an automatic logoff without fixing the time). ADR 0127.
 */
export const DEFAULT_IDLE_SIGN_OUT_MS = 15 * 60_000;
/** Seconds are for tests; `vigil start --idle-sign-out` takes whole minutes. */
export const MIN_IDLE_SIGN_OUT_MS = 2_000;
/** A shift: past it the logoff no longer protects a workstation left signed in. */
export const MAX_IDLE_SIGN_OUT_MS = 12 * 3_600_000;

export interface DashboardConfig {
  idleSignOutMs: number;
}

export class DashboardConfigError extends Error {
  readonly code = 'DASHBOARD_IDLE_SIGN_OUT' as const;
}

/** Checks an operator's setting: an integer number of ms within the bounds, else DashboardConfigError. */
export function checkIdleSignOutMs(ms: number): number {
  if (!Number.isInteger(ms) || ms < MIN_IDLE_SIGN_OUT_MS || ms > MAX_IDLE_SIGN_OUT_MS) {
    throw new DashboardConfigError(
      `the dashboard's idle sign-out must be a whole number of ms from ${MIN_IDLE_SIGN_OUT_MS} to ${MAX_IDLE_SIGN_OUT_MS} (12 h), not ${ms}`,
    );
  }
  return ms;
}

/** The <meta> tags that carry `config` into the page. */
export function configMetaTags(config: DashboardConfig): string {
  return `<meta name="${IDLE_SIGN_OUT_META}" content="${checkIdleSignOutMs(config.idleSignOutMs)}">`;
}

/**
 * The idle sign-out from the page's meta tag's content. A page without one (served by Vite during
 * development) or with an unreadable one gets the default: a broken setting must not mean "never".
 */
export function readIdleSignOutMs(content: string | null | undefined): number {
  if (!content || !/^[0-9]{1,9}$/.test(content)) return DEFAULT_IDLE_SIGN_OUT_MS;
  const ms = Number(content);
  return ms >= MIN_IDLE_SIGN_OUT_MS && ms <= MAX_IDLE_SIGN_OUT_MS ? ms : DEFAULT_IDLE_SIGN_OUT_MS;
}
