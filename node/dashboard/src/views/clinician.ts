// Clinician: the patients under my care, each with a live panel. The list is every patient who gives
// this clinician access now, asked of the node ("grants to me", GET /v1/me/patients, ADR 0130) when the
// view opens (at sign-in), on the live feed's blocks (a grant or a revoke is a transaction), when an
// alert arrives for a patient not listed, after the live feed was interrupted, and when a listed grant
// expires (grants-to-me.ts, ADR 0132); plus the patients the clinician added by key or by link, and
// those whose alert reached the signed live feed (the node pushes an alert only to callers allowed to
// read it). A patient who drops out of that list has their panel cleared ("access ended") until they are
// listed again. Only those the clinician chose are kept, in this tab's session (patient-list.ts, ADR
// 0124); the granted ones are asked for again. Access is decided per read by the node.
import { errorBox, field, h, replace, empty } from '../dom.ts';
import type { GapEvent, LiveFeed } from '../events.ts';
import { throttle } from '../events.ts';
import { clock } from '../format.ts';
import { GrantsToMe } from '../grants-to-me.ts';
import { PatientPanel, type PanelContext } from '../panel.ts';
import { loadPatientList, savePatientList } from '../patient-list.ts';
import { RefreshScheduler } from '../refresh-scheduler.ts';

const HEX64 = /^[0-9a-f]{64}$/;

export function clinicianView(ctx: PanelContext, feed: LiveFeed): { el: HTMLElement; dispose: () => void } {
  const me = ctx.session.key;
  const panels = new Map<string, PatientPanel>();
  const list = h('div', { class: 'panels' });
  // Blocks refresh the panels on screen, a few at a time; the rest when they scroll into view
  // (refresh-scheduler.ts: every read is recorded on the chain).
  const scheduler = new RefreshScheduler<string>((k) => panels.get(k)?.refresh() ?? Promise.resolve());
  const onScreen = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const k = (e.target as HTMLElement).dataset.patient;
      if (k) scheduler.setVisible(k, e.isIntersecting);
    }
  });
  // The patients the clinician chose (by key, by link, or by their alert): kept for the session. Those
  // found through "grants to me" are not: the node is asked again, and a revoked grant then drops out.
  const chosen = new Set<string>();
  // Removed by the clinician in this view: not brought back by the next "grants to me".
  const removed = new Set<string>();
  const save = () => savePatientList(me, chosen);
  const showEmpty = () => {
    if (panels.size === 0)
      replace(
        list,
        empty(
          'No patients yet. Patients who grant you access appear here by themselves; add another by the key they shared with you.',
        ),
      );
  };

  /**
   * Lists a patient. `chosen`: the clinician's own choice, kept for the session; otherwise found through
   * "grants to me". `now`: read at once (an alert, a key typed in); otherwise when its panel is on
   * screen, as a ward's worth of panels read at once would be hundreds of audited reads.
   */
  const add = (key: string, { choose = true, now = true }: { choose?: boolean; now?: boolean } = {}) => {
    if (choose) {
      removed.delete(key);
      if (!chosen.has(key)) {
        chosen.add(key);
        save();
      }
    }
    if (panels.has(key)) return panels.get(key)!;
    if (panels.size === 0) list.replaceChildren();
    const panel = new PatientPanel(ctx, key, 'clinician', () => {
      panels.delete(key);
      chosen.delete(key);
      removed.add(key);
      panel.dispose();
      onScreen.unobserve(panel.el);
      scheduler.forget(key);
      panel.el.remove();
      save();
      showEmpty();
    });
    panels.set(key, panel);
    panel.el.dataset.patient = key;
    list.append(panel.el);
    onScreen.observe(panel.el);
    if (now) void panel.refresh();
    else scheduler.refreshAll([key]);
    return panel;
  };

  // "Grants to me": one signed request (not a read of patient data, nothing is audited), coalesced while
  // one is on its way. A patient it lists is added (read when on screen); one it no longer lists has
  // their panel cleared, and read again once listed again. Cleared: a patient listed at the answer
  // before, and any panel showing data read before this question was sent (a patient added by key whose
  // grant was revoked before the list was asked again); not data read after it (a grant newer than the
  // answer), nor a patient never listed whose panel says why it has no access.
  const found = h('div', { 'aria-live': 'polite' });
  const grants = new GrantsToMe({
    ask: () => ctx.client.accessToMe(ctx.session.signer),
    now: () => ctx.client.now(),
    onError: (text) => (text ? replace(found, errorBox(text)) : replace(found)),
    onAnswer: ({ listed, added, ended, askedAt }) => {
      for (const [k, panel] of panels) {
        if (listed.has(k) || panel.accessEnded) continue;
        const readAt = panel.shownDataReadAt;
        if (readAt !== undefined ? readAt < askedAt : ended.includes(k)) panel.endAccess(Date.now());
      }
      for (const k of added) {
        const panel = panels.get(k);
        if (panel?.accessEnded) {
          panel.accessReturned();
          scheduler.refreshAll([k]);
        } else if (!panel && !removed.has(k)) add(k, { choose: false, now: false });
      }
      showEmpty();
    },
  });
  /** The panels that read on a refresh: not those whose access ended. */
  const readable = () => [...panels.keys()].filter((k) => !panels.get(k)!.accessEnded);

  const input = h('input', {
    type: 'text',
    name: 'patient',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: '64 hex characters',
    pattern: '[0-9a-fA-F]{64}',
  });
  const status = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const k = input.value.trim().toLowerCase();
        if (!HEX64.test(k)) {
          replace(status, errorBox('A patient key is 64 hexadecimal characters.'));
          return;
        }
        replace(status);
        input.value = '';
        add(k);
      },
    },
    field('Add a patient by key', input),
    h('button', { type: 'submit' }, 'Add patient'),
  );

  for (const k of loadPatientList(me)) add(k);
  // A link such as /clinician?patient=<key> (npm start prints one) adds that patient.
  const linked = new URLSearchParams(location.search).get('patient')?.toLowerCase();
  if (linked && HEX64.test(linked)) {
    add(linked);
    history.replaceState(null, '', location.pathname);
  }
  showEmpty();
  void grants.check();

  // Live alerts, and after a reconnect those raised while the stream was down (the feed asks the node
  // for them and drops copies): each adds its patient if not listed, refreshes the panel at once and
  // shows a notice.
  const offAlert = feed.onAlert((a) => {
    const existing = panels.get(a.patient);
    if (existing?.accessEnded) {
      // The node let an alert through: access is back. The list says so, and the panel reads again.
      void grants.check().then(() => existing.onAlert(a));
    } else if (existing) existing.onAlert(a);
    else {
      add(a.patient).onAlert(a);
      // An alert the node let through for a patient not listed: a grant came since the list was asked
      // for, and others may have too.
      void grants.check();
    }
  });
  // The node could not send every alert raised during the outage (more than it sends again at once, or
  // older than its alert index): say so until dismissed, as a toast would be gone before anyone looks,
  // list every patient who grants access now, and read every listed panel now, on screen or not, so
  // that their open alerts are current.
  const gapNotice = h('div');
  const offGap = feed.onGap((g: GapEvent) => {
    const why =
      g.reason === 'notIndexed'
        ? 'the node keeps alerts for reconnecting screens only since it was upgraded'
        : 'more alerts were raised than the node sends again at once';
    replace(
      gapNotice,
      h(
        'div',
        { class: 'state error', role: 'alert' },
        h(
          'p',
          null,
          `Alerts raised while live updates were interrupted (before ${clock(Date.now())}) could not all be caught up: ${why}. Every patient who has granted you access is listed and has been read again.`,
        ),
        h('button', { type: 'button', class: 'quiet', onclick: () => replace(gapNotice) }, 'Dismiss'),
      ),
    );
    void grants.check().then(() => scheduler.refreshEvery(readable()));
  });
  // Blocks change what a clinician may see (grants, revokes, new readings): on the feed, at most every
  // 5 s, ask who grants access (a revoke clears its panel without reading it), then refresh the panels
  // still readable, since each read is itself recorded on the chain (docs/api.md "Audit of reads").
  const refreshAll = () => void grants.check().then(() => scheduler.refreshAll(readable()));
  const offBlock = feed.onBlock(throttle(refreshAll, 5_000));
  // Block events sent while the stream was down are not replayed: once it is back, ask again and re-read
  // every panel (those off screen as they come into view). Missed alerts come from the feed (above).
  const offResume = feed.onResume(refreshAll);

  const el = h(
    'main',
    { id: 'main', class: 'view' },
    h('h1', null, 'My patients'),
    gapNotice,
    form,
    status,
    found,
    list,
  );
  return {
    el,
    dispose: () => {
      offAlert();
      offGap();
      offBlock();
      offResume();
      onScreen.disconnect();
      grants.dispose();
      for (const p of panels.values()) p.dispose();
    },
  };
}
