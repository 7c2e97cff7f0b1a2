// Clinician: the patients under my care, each with a live panel. The node has no "patients who granted
// me access" index yet, so the list is the patients this clinician added by key (kept for this tab's
// session only, patient-list.ts, ADR 0124) plus every patient whose alert reached this clinician's
// signed live feed (the node pushes an alert only to callers allowed to read it). Access is decided per
// read by the node.
import { errorBox, field, h, replace, empty } from '../dom.ts';
import type { LiveFeed } from '../events.ts';
import { throttle } from '../events.ts';
import { clock } from '../format.ts';
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
  const save = () => savePatientList(me, panels.keys());
  const showEmpty = () => {
    if (panels.size === 0)
      replace(
        list,
        empty(
          'No patients yet. Add a patient by the key they shared with you; patients whose alerts reach you appear here by themselves.',
        ),
      );
  };

  const add = (key: string, persist = true) => {
    if (panels.has(key)) return panels.get(key)!;
    if (panels.size === 0) list.replaceChildren();
    const panel = new PatientPanel(ctx, key, 'clinician', () => {
      panels.delete(key);
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
    if (persist) save();
    void panel.refresh();
    return panel;
  };

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

  for (const k of loadPatientList(me)) add(k, false);
  // A link such as /clinician?patient=<key> (npm start prints one) adds that patient.
  const linked = new URLSearchParams(location.search).get('patient')?.toLowerCase();
  if (linked && HEX64.test(linked)) {
    add(linked);
    history.replaceState(null, '', location.pathname);
  }
  showEmpty();

  // Live alerts, and after a reconnect those raised while the stream was down (the feed asks the node
  // for them and drops copies): each adds its patient if not listed, refreshes the panel at once and
  // shows a notice.
  const offAlert = feed.onAlert((a) => {
    const existing = panels.get(a.patient);
    if (existing) existing.onAlert(a);
    else add(a.patient).onAlert(a);
  });
  // The node could not send every alert raised during the outage (it restarted, or it was very long):
  // say so until dismissed, as a toast would be gone before anyone looks, and read every listed panel
  // now, on screen or not, so that their open alerts are current.
  const gapNotice = h('div');
  const offGap = feed.onGap(() => {
    replace(
      gapNotice,
      h(
        'div',
        { class: 'state error', role: 'alert' },
        h(
          'p',
          null,
          `Alerts raised while live updates were interrupted (before ${clock(Date.now())}) could not all be caught up: the node was restarted or the interruption was long. Every patient in your list has been read again; a patient not in your list whose alert was raised then is not shown until their next alert or until you add them.`,
        ),
        h('button', { type: 'button', class: 'quiet', onclick: () => replace(gapNotice) }, 'Dismiss'),
      ),
    );
    scheduler.refreshEvery(panels.keys());
  });
  // Blocks change what a clinician may see (grants, revokes, new readings): refresh on the feed,
  // at most every 5 s, since each read is itself recorded on the chain (docs/api.md "Audit of reads").
  const refreshAll = throttle(() => scheduler.refreshAll(panels.keys()), 5_000);
  const offBlock = feed.onBlock(refreshAll);
  // Block events sent while the stream was down are not replayed: re-read every panel once it is back
  // (those off screen as they come into view). Missed alerts come from the feed (above).
  const offResume = feed.onResume(() => scheduler.refreshAll(panels.keys()));

  const el = h(
    'main',
    { id: 'main', class: 'view' },
    h('h1', null, 'My patients'),
    gapNotice,
    form,
    status,
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
      for (const p of panels.values()) p.dispose();
    },
  };
}
