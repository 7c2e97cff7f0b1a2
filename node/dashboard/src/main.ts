// The dashboard shell: connects to the node that served it, restores the tab's session, routes between
// the sign-in, clinician, patient and operator views (history API; the node answers index.html for each
// path), keeps one live feed per signed-in tab and shows its state, announces transient messages, and
// signs out a tab left idle (ADR 0127).
import './style.css';
import { IDLE_SIGN_OUT_META, readIdleSignOutMs } from '../../src/api/dashboard-config.ts';
import { Client } from './client.ts';
import { type Child, errorBox, h, replace } from './dom.ts';
import { type FeedState, LiveFeed } from './events.ts';
import { clock, durationText, shortKey } from './format.ts';
import { IdleTimer } from './idle.ts';
import { idleDialog } from './idle-dialog.ts';
import {
  closeSession,
  openSession,
  type Role,
  restoreSession,
  type Session,
  setRole,
  wipeLegacyData,
  wipeStoredData,
} from './session.ts';
import { clinicianView } from './views/clinician.ts';
import { operatorView } from './views/operator.ts';
import { patientView } from './views/patient.ts';
import { signInView } from './views/signin.ts';

const root = document.getElementById('app')!;
const toasts = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
let client: Client;
let session: Session | undefined;
let feed: LiveFeed | undefined;
let dispose: (() => void) | undefined;
let offFeedState: (() => void) | undefined;
// The node's operator sets the automatic logoff (vigil start --idle-sign-out); Vite's dev server sets
// none, and the default applies.
const idleSignOutMs = readIdleSignOutMs(
  document.querySelector(`meta[name="${IDLE_SIGN_OUT_META}"]`)?.getAttribute('content'),
);
let idle: IdleTimer | undefined;
/** Said on the sign-in screen after an automatic sign-out, until the next sign-in. */
let signedOutNotice: string | undefined;
const idleWarning = idleDialog({
  stay: () => idle?.activity(),
  signOut: () => signOut(),
});

function announce(text: string) {
  const t = h('p', { class: 'toast' }, text);
  toasts.append(t);
  setTimeout(() => t.remove(), 8_000);
}

function routeRole(): Role | 'signin' {
  const p = location.pathname.split('/')[1];
  if (p === 'clinician' || p === 'patient' || p === 'operator') return p;
  return 'signin';
}

function navigate(path: string) {
  if (`${location.pathname}${location.search}` !== path) history.pushState(null, '', path);
  render();
}

function startFeed() {
  feed?.stop();
  feed = new LiveFeed(client, session?.signer);
  feed.start();
}

/**
 * Ends the session and everything in this page that names a patient with it (ADR 0124): the seed and
 * the clinician's list in Web Storage, the view's panels, the signed feed (and the alerts it remembers),
 * and the notices on screen ("New alert for patient 0ab1…").
 */
function signOut(notice?: string) {
  idle?.stop();
  idle = undefined;
  idleWarning.close();
  signedOutNotice = notice;
  dispose?.();
  dispose = undefined;
  closeSession();
  session = undefined;
  toasts.replaceChildren();
  startFeed();
  navigate('/signin');
}

/**
 * Counts inactivity while a session is open; at the end of the warning, signs out exactly as the button
 * does. Only input counts as activity (listeners in boot): never the live feed or what it refreshes.
 */
function startIdleTimer() {
  idle?.stop();
  idle = undefined;
  if (!session) return;
  idle = new IdleTimer(
    { idleMs: idleSignOutMs, busy: () => client.submitting },
    {
      warn: (seconds) => idleWarning.show(seconds),
      resume: () => idleWarning.close(),
      signOut: () =>
        signOut(
          `You were signed out after ${durationText(idleSignOutMs)} without activity. This tab no longer holds your key or anything it showed.`,
        ),
    },
  );
  idle.start();
}

function header(): Child[] {
  const live = h('span', { class: 'live', 'data-state': 'connecting' }, 'connecting…');
  // A small "reconnecting…" alone is easy to miss on a ward screen whose values have stopped updating:
  // while the stream is down, a banner says since when what is shown may be out of date.
  const down = h('p', { class: 'feed-down', role: 'alert', hidden: true });
  let downSince: number | undefined;
  offFeedState?.();
  offFeedState = feed?.onState((s: FeedState) => {
    live.dataset.state = s;
    live.textContent = s === 'live' ? '● live' : s === 'connecting' ? 'connecting…' : 'reconnecting…';
    if (s === 'reconnecting') {
      downSince ??= Date.now();
      down.hidden = false;
      down.textContent = `Live updates interrupted since ${clock(downSince)}: values and alerts shown may be out of date. Reconnecting…`;
    } else if (s === 'live') {
      downSince = undefined;
      down.hidden = true;
    }
  });
  const link = (role: Role, label: string) =>
    h(
      'a',
      {
        href: `/${role}`,
        'aria-current': routeRole() === role ? 'page' : undefined,
        onclick: (e: MouseEvent) => {
          e.preventDefault();
          if (session) setRole(session, role);
          navigate(`/${role}`);
        },
      },
      label,
    );
  const top = h(
    'header',
    { class: 'top' },
    h(
      'a',
      {
        class: 'brand',
        href: '/',
        onclick: (e: MouseEvent) => {
          e.preventDefault();
          navigate(session ? `/${session.role}` : '/signin');
        },
      },
      'Vigil',
    ),
    h(
      'nav',
      { 'aria-label': 'Views' },
      link('clinician', 'Clinician'),
      link('patient', 'Patient'),
      link('operator', 'Operator'),
    ),
    h('div', { class: 'spacer' }),
    live,
    session
      ? h(
          'span',
          { class: 'who' },
          h('span', { class: 'who-key', title: session.key }, `Key ${shortKey(session.key)}`),
          h(
            'button',
            {
              type: 'button',
              class: 'quiet',
              onclick: () => signOut(),
            },
            'Sign out',
          ),
        )
      : null,
  );
  return [top, down];
}

function render() {
  dispose?.();
  dispose = undefined;
  const route = routeRole();
  const wanted = route === 'signin' ? undefined : route;
  if (!session && wanted !== 'operator') {
    replace(
      root,
      header(),
      signInView((seed, role) => {
        session = openSession(seed, role);
        signedOutNotice = undefined;
        startFeed();
        startIdleTimer();
        // Keep a link's query (e.g. /clinician?patient=...) across the sign-in.
        navigate(`/${role}${location.search}`);
      }, signedOutNotice),
      toasts,
    );
    const select = root.querySelector<HTMLSelectElement>('select[name=role]');
    if (select && wanted) select.value = wanted;
    return;
  }
  if (route === 'signin' && session) {
    navigate(`/${session.role}`);
    return;
  }
  const ctx = { client, session: session!, announce };
  const view =
    route === 'clinician'
      ? clinicianView(ctx, feed!)
      : route === 'patient'
        ? patientView(ctx, feed!)
        : operatorView(feed!);
  dispose = view.dispose;
  replace(root, header(), view.el, toasts);
}

async function boot() {
  try {
    client = await Client.connect();
  } catch (e) {
    replace(
      root,
      h(
        'main',
        { id: 'main', class: 'view' },
        h('h1', null, 'Vigil'),
        errorBox(
          `Cannot reach the node that served this page: ${(e as Error).message}. Reload to try again.`,
        ),
      ),
    );
    return;
  }
  // Nothing the dashboard stores outlives a session (ADR 0124): what an earlier version left in
  // localStorage goes at every start, and a tab without a session keeps nothing of a previous one.
  wipeLegacyData();
  session = restoreSession();
  if (!session) wipeStoredData();
  startFeed();
  // User input is activity; a click, a key or a touch is deliberate (it ends the warning), a pointer
  // moving or a wheel turning is not. Not `scroll`: a panel re-rendered by the live feed can move the
  // page by itself. A pointer move counts only when the pointer moved (browsers send moves with no
  // movement when the layout changes under a still mouse). The tab coming back into view is not activity,
  // but its timers may have been held back while hidden: the deadline is checked at once.
  for (const type of ['pointerdown', 'keydown', 'touchstart'])
    window.addEventListener(type, () => idle?.activity(), { capture: true, passive: true });
  window.addEventListener('wheel', () => idle?.activity(false), { capture: true, passive: true });
  window.addEventListener(
    'pointermove',
    (e) => {
      if (e.movementX !== 0 || e.movementY !== 0) idle?.activity(false);
    },
    { capture: true, passive: true },
  );
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') idle?.check();
  });
  document.body.append(idleWarning.el);
  startIdleTimer();
  window.addEventListener('popstate', render);
  render();
}

void boot();
