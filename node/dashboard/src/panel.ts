// The live panel of one patient, shared by the clinician view (one per patient under care) and the
// patient's own "My vitals": latest values, NEWS2 with its risk colour and missing parameters, a chart
// per vital sign over the chosen window with the alert thresholds as bands, open alerts (a clinician can
// acknowledge them), and, for a clinician without access, the break-glass flow with its reason. When the
// view learns from "grants to me" that access ended (ADR 0132), the panel drops what it showed and says so
// until the view tells it access is back.
import { EMERGENCY_REASON_CODES } from '@vigil/consensus/wire/bodies/index.ts';
import { fromHex } from '@vigil/consensus/wire';
import type uPlot from 'uplot';
import { vitalChart } from './charts.ts';
import { ApiProblem, type Client } from './client.ts';
import { empty, errorBox, field, h, loading, replace, uid } from './dom.ts';
import type { AlertEvent } from './events.ts';
import {
  ALERT_LIMIT,
  alertCause,
  clock,
  KIND_LABELS,
  type News2Score,
  news2Display,
  openAlertsHeading,
  REQUEST_ERRORS,
  raisedText,
  readingAge,
  shortKey,
  time,
  vital,
} from './format.ts';
import { type Part, panelOutcome, partError, settle } from './parts.ts';
import { PAGE_LIMIT, type ReadingsPage, type WindowReadings, windowReadings } from './readings.ts';
import type { Session } from './session.ts';

export const WINDOWS = { hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000 } as const;
export type WindowName = keyof typeof WINDOWS;
const CHART_KINDS = [1, 2, 3, 4, 5, 6];
const ALL_KINDS = [1, 2, 3, 4, 5, 6, 7, 8];

interface Access {
  via: 'self' | 'guardian' | 'grant' | 'emergency';
  grantId?: string;
  accessId?: string;
  expiresAt?: number;
}
interface News2 extends News2Score {
  access: Access;
}
interface AlertItem {
  seq: number;
  cause: string;
  kind: number | null;
  value: number | null;
  news2Total: number | null;
  news2Band: number | null;
  missing: string[];
  raisedAt: number;
  status: 'open' | 'acknowledged';
}

export interface PanelContext {
  client: Client;
  session: Session;
  /** A transient message for everyone (toast region). */
  announce: (text: string) => void;
}

export type PanelMode = 'clinician' | 'self';

export class PatientPanel {
  readonly patient: string;
  readonly el: HTMLElement;
  private readonly ctx: PanelContext;
  private readonly mode: PanelMode;
  private readonly body: HTMLElement;
  private readonly badge: HTMLElement;
  private window: WindowName = 'hour';
  private purpose = 1;
  private loadingNow = false;
  private again = false;
  private resize: ResizeObserver | undefined;
  /** Set by dispose: a read still in flight then draws nothing and observes nothing. */
  private disposed = false;
  /** The access basis named by the last answer read. */
  private access: Access | undefined;
  /** The refusal on show, if any (see renderNoAccess). */
  private shownRefusal: string | undefined;
  /** Access ended (endAccess): nothing is read or drawn until accessReturned or a break-glass. */
  private ended = false;
  /** Bumped by endAccess: a read begun before draws nothing. */
  private generation = 0;
  /** When the read whose data is on show began (Date.now()); undefined when none is shown. */
  private dataReadAt: number | undefined;

  constructor(ctx: PanelContext, patient: string, mode: PanelMode, onRemove?: () => void) {
    this.ctx = ctx;
    this.patient = patient;
    this.mode = mode;
    const titleId = uid('panel');
    this.badge = h('span', { class: 'badge' }, 'checking access…');
    this.body = h('div', { class: 'panel-body' }, loading('Loading this patient…'));
    const title =
      mode === 'self' && patient === ctx.session.key ? 'My vitals' : `Patient ${shortKey(patient)}`;
    this.el = h(
      'section',
      { class: 'panel', 'aria-labelledby': titleId, 'data-patient': patient },
      h(
        'header',
        { class: 'panel-head' },
        h('h2', { id: titleId }, title),
        this.badge,
        h('div', { class: 'spacer' }),
        this.windowPicker(),
        onRemove &&
          h(
            'button',
            {
              type: 'button',
              class: 'quiet',
              onclick: onRemove,
              'aria-label': `Remove patient ${shortKey(patient)} from my list`,
            },
            'Remove',
          ),
      ),
      this.body,
    );
  }

  private windowPicker(): HTMLElement {
    const name = uid('window');
    const group = h(
      'fieldset',
      { class: 'window-picker' },
      h('legend', { class: 'sr-only' }, 'Chart window'),
    );
    for (const w of Object.keys(WINDOWS) as WindowName[]) {
      const id = uid('w');
      group.append(
        h('input', {
          type: 'radio',
          name,
          id,
          value: w,
          checked: w === this.window,
          onchange: () => {
            this.window = w;
            void this.refresh();
          },
        }),
        h('label', { for: id }, `Last ${w}`),
      );
    }
    return group;
  }

  private async get<T>(path: string, purpose = this.purpose): Promise<T> {
    const r = await this.ctx.client.signedGet<T>(
      this.ctx.session.signer,
      `/v1/patients/${this.patient}${path}`,
      purpose,
    );
    // Every answer names its access basis: the badge shows the one of whichever part was read.
    const access = (r as { access?: Access } | null)?.access;
    if (access) this.access = access;
    return r;
  }

  /**
   * Stops observing the charts' size: a ResizeObserver holds its callback, and with it the panel, its
   * charts and their data, until disconnected, whether or not the element is still in the page. Called
   * when the panel is removed or its view goes (sign-out, another view).
   */
  dispose(): void {
    this.disposed = true;
    this.resize?.disconnect();
    this.resize = undefined;
  }

  /** Whether the panel shows that access ended (endAccess), and reads nothing. */
  get accessEnded(): boolean {
    return this.ended;
  }

  /**
   * When the read whose patient data is on show began, or undefined when the panel shows none (loading,
   * refused, failed, ended): a "grants to me" answer to a question asked later, without this patient,
   * means that data may no longer be shown.
   */
  get shownDataReadAt(): number | undefined {
    return this.dataReadAt;
  }

  /**
   * Access ended ("grants to me" no longer lists the patient, ADR 0132): drops everything shown of the
   * patient (values, charts, alerts, a read still in flight) and says so. Nothing is read until
   * accessReturned; a clinician is still offered break-glass.
   */
  endAccess(at: number): void {
    if (this.disposed) return;
    this.ended = true;
    this.generation += 1;
    this.again = false;
    this.purpose = 1;
    this.access = undefined;
    this.shownRefusal = undefined;
    this.dataReadAt = undefined;
    this.resize?.disconnect();
    this.resize = undefined;
    this.badge.className = 'badge via-none ended';
    replace(this.badge, 'access ended');
    replace(
      this.body,
      h(
        'p',
        { class: 'state error access-ended', role: 'alert' },
        `Access ended (${clock(at)}). This patient no longer grants you access (revoked, expired, or your account suspended). What was shown has been cleared; it comes back if access is given again.`,
      ),
      this.mode === 'clinician' && this.breakGlassForm(),
    );
  }

  /** Access is back ("grants to me" lists the patient again): the next refresh reads as before. */
  accessReturned(): void {
    if (this.disposed || !this.ended) return;
    this.ended = false;
    this.badge.className = 'badge';
    replace(this.badge, 'checking access…');
    replace(this.body, loading('Access given again: loading this patient…'));
  }

  /** Loads everything again; concurrent calls coalesce into one follow-up load. */
  async refresh(): Promise<void> {
    if (this.disposed || this.ended) return;
    if (this.loadingNow) {
      this.again = true;
      return;
    }
    this.loadingNow = true;
    try {
      await this.load();
    } finally {
      this.loadingNow = false;
    }
    if (this.again && !this.disposed && !this.ended) {
      this.again = false;
      await this.refresh();
    }
  }

  /** An alert pushed on the live feed for this patient. */
  onAlert(a: AlertEvent): void {
    // After sign-out (the view disposed, a question still answered late): no notice naming a patient.
    if (this.disposed) return;
    this.ctx.announce(
      `New alert for ${this.mode === 'self' && a.patient === this.ctx.session.key ? 'you' : `patient ${shortKey(a.patient)}`}: ${alertCause(a.cause, a.kind, a.band)}`,
    );
    void this.refresh();
  }

  private async news2WithAccess(): Promise<News2> {
    try {
      return await this.get<News2>('/news2');
    } catch (e) {
      // A clinician without a grant may hold an open break-glass session: those reads carry purpose 3.
      if (this.mode === 'clinician' && e instanceof ApiProblem && e.status === 403 && this.purpose !== 3) {
        try {
          const n = await this.get<News2>('/news2', 3);
          this.purpose = 3;
          return n;
        } catch {
          throw e;
        }
      }
      if (this.mode === 'clinician' && e instanceof ApiProblem && e.status === 403 && this.purpose === 3) {
        this.purpose = 1;
        return this.news2WithAccess();
      }
      throw e;
    }
  }

  private readings(kind: number, from: number, to: number): Promise<WindowReadings> {
    return windowReadings(
      (f, t, cursor) =>
        this.get<ReadingsPage>(
          `/readings?kind=${kind}&from=${f}&to=${t}&limit=${PAGE_LIMIT}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        ),
      from,
      to,
    );
  }

  private async load(): Promise<void> {
    const generation = this.generation;
    const startedAt = Date.now();
    // NEWS2 first: it settles the purpose (treatment, or emergency under an open break-glass).
    this.access = undefined;
    const news2 = await settle(this.news2WithAccess());
    const to = this.ctx.client.now() + 1;
    const from = to - WINDOWS[this.window];
    const [alerts, ...series] = await Promise.all([
      settle(this.get<{ items: AlertItem[] }>(`/alerts?open=true&limit=${ALERT_LIMIT + 1}`)),
      ...ALL_KINDS.map((k) => settle(this.readings(k, from, to))),
    ]);
    // Disposed while reading (the clinician signed out or left the view), or access ended meanwhile:
    // nothing more to draw.
    if (this.disposed || generation !== this.generation) return;
    const outcome = panelOutcome([news2, alerts!, ...series]);
    if (outcome.kind === 'refused') {
      this.dataReadAt = undefined;
      this.renderNoAccess(outcome.problem);
      return;
    }
    if (outcome.kind === 'failed') {
      this.dataReadAt = undefined;
      this.badge.className = 'badge via-none';
      replace(this.badge, 'not loaded');
      this.shownRefusal = undefined;
      replace(this.body, errorBox(`Could not load this patient: ${partError(outcome.error)}`));
      return;
    }
    this.dataReadAt = startedAt;
    this.render(news2, alerts!, series, from, to);
  }

  private renderBadge(a: Access) {
    this.badge.className = `badge via-${a.via}`;
    const until = a.expiresAt ? ` until ${time(a.expiresAt)}` : '';
    const text = {
      self: 'your own record',
      guardian: 'as guardian',
      grant: `access granted${until}`,
      emergency: `EMERGENCY ACCESS${until}`,
    }[a.via];
    replace(this.badge, text);
  }

  private render(
    n: Part<News2>,
    alerts: Part<{ items: AlertItem[] }>,
    series: Part<WindowReadings>[],
    from: number,
    to: number,
  ) {
    this.shownRefusal = undefined;
    const access = this.access ?? { via: 'grant' };
    this.renderBadge(access);
    const latest = h('div', { class: 'tiles' });
    ALL_KINDS.forEach((kind, i) => {
      const part = series[i]!;
      const last = part.ok ? part.value.items.at(-1) : undefined;
      const age = last && readingAge(kind, last.measuredAt, this.ctx.client.now());
      latest.append(
        h(
          'div',
          { class: 'tile', 'data-kind': kind },
          h('span', { class: 'tile-label' }, KIND_LABELS[kind]!),
          h('strong', { class: 'tile-value' }, last ? vital(kind, last.value) : '—'),
          !part.ok
            ? h('small', { class: 'refused' }, partError(part.error))
            : age
              ? h('small', { class: age.stale ? 'stale' : undefined }, age.text)
              : h('small', null, `none in the last ${this.window}`),
        ),
      );
    });
    const score = n.ok
      ? news2Display(n.value)
      : { total: '—', band: 'none', label: partError(n.error), notes: [] };
    const news2 = h(
      'div',
      { class: `news2 band-${score.band}`, 'data-testid': 'news2' },
      h('span', { class: 'tile-label' }, 'NEWS2'),
      h('strong', { class: 'news2-total' }, score.total),
      h('span', { class: 'news2-band' }, score.label),
      score.notes.map((note) => h('small', null, note)),
    );
    const charts = h('div', { class: 'charts' });
    const alertList = this.renderAlerts(alerts);
    const parts = [
      access.via === 'emergency' && this.emergencyBanner(access),
      h('div', { class: 'summary' }, news2, latest),
      alertList,
      h('h3', null, `Vital signs, last ${this.window}`),
      charts,
    ];
    replace(this.body, ...parts);
    // Charts need their container's width: draw once the panel is laid out, and resize them with it
    // (a phone turned sideways, a window resized).
    this.resize?.disconnect();
    const generation = this.generation;
    requestAnimationFrame(() => {
      // A frame after dispose must not create an observer nobody will disconnect (nor one after the
      // panel was cleared: access ended).
      if (this.disposed || generation !== this.generation) return;
      const plots: uPlot[] = [];
      const width = () => {
        const w = charts.clientWidth || 320;
        const cols = Math.max(1, getComputedStyle(charts).gridTemplateColumns.split(' ').length);
        return Math.max(200, Math.floor((w - (cols - 1) * 16) / cols));
      };
      for (const kind of CHART_KINDS) {
        const part = series[kind - 1]!;
        if (!part.ok || part.value.items.length === 0) continue;
        const { items: s, since, truncated } = part.value;
        // A window with more readings than a chart draws shows its newest stretch, and says so: an
        // empty left part would read as "the device was off".
        const c = vitalChart(
          {
            kind,
            times: s.map((r) => r.measuredAt),
            values: s.map((r) => r.value),
            from: truncated ? since : from,
            to,
          },
          width(),
        );
        if (truncated)
          c.el.append(h('p', { class: 'chart-note' }, `Newest ${s.length} readings, from ${time(since)}.`));
        plots.push(c.plot);
        charts.append(c.el);
      }
      if (plots.length === 0) charts.append(empty(`No readings in the last ${this.window}.`));
      let last = charts.clientWidth;
      this.resize = new ResizeObserver(() => {
        if (charts.clientWidth === last) return;
        last = charts.clientWidth;
        for (const p of plots) p.setSize({ width: width(), height: 160 });
      });
      this.resize.observe(charts);
    });
  }

  private renderAlerts(part: Part<{ items: AlertItem[] }>): HTMLElement {
    if (!part.ok) {
      // Never "No open alerts" when they could not be read: the clinician must know they are blind here.
      return h(
        'div',
        { class: 'alerts' },
        h('h3', null, 'Open alerts'),
        errorBox(`Alerts not shown: ${partError(part.error)}.`),
      );
    }
    const box = h(
      'div',
      { class: 'alerts', 'aria-live': 'polite' },
      h('h3', null, openAlertsHeading(part.value.items.length)),
    );
    const alerts = part.value.items.slice(0, ALERT_LIMIT);
    if (alerts.length === 0) {
      box.append(empty('No open alerts.'));
      return box;
    }
    const list = h('ul', { class: 'alert-list' });
    for (const a of alerts) {
      const what =
        a.cause === 'news2'
          ? `${alertCause(a.cause, null, a.news2Band)} (score ${a.news2Total})`
          : `${alertCause(a.cause, a.kind)}: ${a.kind !== null && a.value !== null ? vital(a.kind, a.value) : ''}`;
      const ack =
        this.mode === 'clinician'
          ? h(
              'button',
              {
                type: 'button',
                onclick: async (ev: Event) => {
                  const b = ev.currentTarget as HTMLButtonElement;
                  b.disabled = true;
                  b.textContent = 'Acknowledging…';
                  try {
                    await this.ctx.client.submit(this.ctx.session.signer, {
                      type: 61,
                      patient: fromHex(this.patient),
                      alertSeq: a.seq,
                    });
                    this.ctx.announce(`Alert ${a.seq} acknowledged.`);
                    await this.refresh();
                  } catch (e) {
                    b.disabled = false;
                    b.textContent = 'Acknowledge';
                    this.ctx.announce(`Could not acknowledge: ${(e as Error).message}`);
                  }
                },
              },
              'Acknowledge',
            )
          : null;
      list.append(
        h(
          'li',
          { class: 'alert-item', 'data-seq': a.seq },
          h('span', { class: 'alert-what' }, what),
          h('small', null, raisedText(a.raisedAt, this.ctx.client.now())),
          ack,
        ),
      );
    }
    box.append(list);
    return box;
  }

  private emergencyBanner(a: Access): HTMLElement {
    return h(
      'div',
      { class: 'banner emergency', role: 'note' },
      h('strong', null, 'Break-glass access. '),
      'Every read is recorded in the patient’s audit trail and reviewed. ',
      a.accessId &&
        h(
          'button',
          {
            type: 'button',
            onclick: async () => {
              try {
                await this.ctx.client.submit(this.ctx.session.signer, {
                  type: 43,
                  patient: fromHex(this.patient),
                  accessId: fromHex(a.accessId!),
                });
                this.purpose = 1;
                this.ctx.announce('Emergency access closed.');
                await this.refresh();
              } catch (e) {
                this.ctx.announce(`Could not close: ${(e as Error).message}`);
              }
            },
          },
          'Close emergency access',
        ),
    );
  }

  private renderNoAccess(e: unknown) {
    const p = e instanceof ApiProblem ? e : undefined;
    this.badge.className = 'badge via-none';
    replace(this.badge, 'no access');
    const msg = p ? (REQUEST_ERRORS[p.code] ?? `${p.message} (${p.code})`) : String(e);
    // A refresh must not wipe a break-glass form the clinician is filling in.
    if (this.shownRefusal === msg && this.body.querySelector('form.break-glass')) return;
    this.shownRefusal = msg;
    if (
      this.mode !== 'clinician' ||
      !p ||
      p.status !== 403 ||
      p.code === 'UNKNOWN_REQUESTER' ||
      p.code === 'UNKNOWN_PATIENT'
    ) {
      replace(this.body, errorBox(msg));
      return;
    }
    replace(this.body, errorBox(msg), this.breakGlassForm());
  }

  private breakGlassForm(): HTMLElement {
    const code = h(
      'select',
      { required: true },
      ...EMERGENCY_REASON_CODES.map((c) =>
        h(
          'option',
          { value: c },
          {
            ETREAT: 'ETREAT: emergency treatment',
            BTG: 'BTG: break the glass',
            ERTREAT: 'ERTREAT: emergency research treatment',
          }[c] ?? c,
        ),
      ),
    );
    const reason = h('textarea', {
      required: true,
      maxlength: 500,
      rows: 2,
      placeholder: 'e.g. unresponsive in A&E, no consent obtainable',
    });
    const hours = h(
      'select',
      null,
      h('option', { value: 1 }, '1 hour'),
      h('option', { value: 4 }, '4 hours'),
      h('option', { value: 12 }, '12 hours'),
      h('option', { value: 24 }, '24 hours'),
    );
    const status = h('p', { class: 'form-status', role: 'status' });
    const form = h(
      'form',
      {
        class: 'break-glass',
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          const text = reason.value.trim();
          if (!text) {
            replace(status, 'A reason is required.');
            return;
          }
          replace(status, 'Opening emergency access…');
          try {
            await this.ctx.client.submit(this.ctx.session.signer, {
              type: 42,
              patient: fromHex(this.patient),
              reasonCode: code.value,
              reason: text,
              durationMs: Number(hours.value) * 3_600_000,
            });
            this.purpose = 3;
            // Open: the panel reads again, even if "grants to me" has not listed the access yet.
            this.ended = false;
            this.ctx.announce('Emergency access opened; the patient will see it in their audit trail.');
            await this.refresh();
          } catch (e) {
            replace(status, `Could not open emergency access: ${(e as Error).message}`);
          }
        },
      },
      h('h3', null, 'Break glass'),
      h(
        'p',
        null,
        'In an emergency you can open time-limited access without the patient’s consent. The patient and auditors see who opened it, when and why.',
      ),
      field('Reason code', code),
      field('Reason', reason, 'Required; recorded on the chain.'),
      field('Duration', hours),
      h('button', { type: 'submit', class: 'danger' }, 'Open emergency access'),
      status,
    );
    return form;
  }
}
