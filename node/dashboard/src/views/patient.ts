// Patient or guardian: own vitals and alerts, consents (grant, revoke, scope, purpose, expiry), devices
// (bind, suspend, revoke) and "who looked at my record", the audit trail in plain language. A guardian
// is offered the records they look after: the patients "grants to me" (GET /v1/me/patients, ADR 0130)
// lists as having appointed them, asked again on the live feed's blocks (grants-to-me.ts, ADR 0132). A
// ward who removes the guardian drops out of that list, and the record on screen, if theirs, is cleared
// and says access ended, until they are listed again.
import { fromHex } from '@vigil/consensus/wire';
import { SCOPES } from '@vigil/consensus/wire/bodies/index.ts';
import { ApiProblem } from '../client.ts';
import { empty, errorBox, field, h, loading, replace, uid } from '../dom.ts';
import type { LiveFeed } from '../events.ts';
import { throttle } from '../events.ts';
import { type AuditItem, describeAudit } from '../audit-text.ts';
import {
  categoryLabel,
  categoryList,
  clock,
  PURPOSE_LABELS,
  REQUEST_ERRORS,
  shortKey,
  time,
} from '../format.ts';
import { GrantsToMe } from '../grants-to-me.ts';
import { type PanelContext, PatientPanel } from '../panel.ts';

const HEX64 = /^[0-9a-f]{64}$/;

interface Grant {
  grantId: string;
  grantee: { kind: 1; key: string } | { kind: 2; orgId: string };
  scopes: string[];
  purpose: number;
  expiresAt: number;
  grantedAt: number;
}
interface Emergency {
  accessId: string;
  clinician: string;
  reasonCode: string;
  reason: string;
  openedAt: number;
  expiresAt: number;
}
interface Consents {
  guardians: string[];
  researchOptIn: boolean;
  grants: Grant[];
  emergencies: Emergency[];
}

type Tab = 'vitals' | 'consents' | 'devices' | 'audit';
const TABS: Record<Tab, string> = {
  vitals: 'My vitals',
  consents: 'Consents',
  devices: 'Devices',
  audit: 'Who looked at my record',
};

function problemText(e: unknown): string {
  if (e instanceof ApiProblem) return REQUEST_ERRORS[e.code] ?? `${e.message} (${e.code})`;
  return String(e);
}

export function patientView(ctx: PanelContext, feed: LiveFeed): { el: HTMLElement; dispose: () => void } {
  const me = ctx.session.key;
  let subject = me;
  let tab: Tab = 'vitals';
  let panel: PatientPanel | undefined;
  const content = h('div', { class: 'tab-content', role: 'tabpanel', id: 'patient-tabpanel', tabindex: -1 });
  const tabButtons = new Map<Tab, HTMLButtonElement>();
  const tabList = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Record sections' });
  for (const t of Object.keys(TABS) as Tab[]) {
    const b = h(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `tab-${t}`,
        'aria-controls': 'patient-tabpanel',
        onclick: () => select(t),
        onkeydown: (e: KeyboardEvent) => {
          const order = Object.keys(TABS) as Tab[];
          const i = order.indexOf(t);
          if (e.key === 'ArrowRight') select(order[(i + 1) % order.length]!, true);
          if (e.key === 'ArrowLeft') select(order[(i + order.length - 1) % order.length]!, true);
        },
      },
      TABS[t],
    );
    tabButtons.set(t, b);
    tabList.append(b);
  }

  const get = <T>(path: string) =>
    ctx.client.signedGet<T>(ctx.session.signer, `/v1/patients/${subject}${path}`);

  function select(t: Tab, focus = false) {
    tab = t;
    for (const [k, b] of tabButtons) {
      b.setAttribute('aria-selected', String(k === t));
      b.tabIndex = k === t ? 0 : -1;
    }
    if (focus) tabButtons.get(t)!.focus();
    content.setAttribute('aria-labelledby', `tab-${t}`);
    void render();
  }

  async function render(quiet = false) {
    // The panel being replaced (another tab, another record) stops observing its charts.
    panel?.dispose();
    if (ended.has(subject)) {
      panel = undefined;
      replace(content, endedBox(subject, ended.get(subject)!));
      return;
    }
    if (tab === 'vitals') {
      panel = new PatientPanel(ctx, subject, 'self');
      replace(content, panel.el);
      await panel.refresh();
      return;
    }
    panel = undefined;
    if (!quiet) replace(content, loading());
    try {
      if (tab === 'consents') replace(content, await consentsTab());
      if (tab === 'devices') replace(content, await devicesTab());
      if (tab === 'audit') replace(content, await auditTab());
    } catch (e) {
      if (e instanceof ApiProblem && e.code === 'UNKNOWN_PATIENT' && subject === me) {
        replace(content, registerBox());
      } else {
        replace(content, errorBox(problemText(e)));
      }
    }
  }

  // The wards: patients who have this key as a guardian now ("grants to me", guardianships only: the
  // tabs other than vitals are the patient's and their guardians' alone, so a clinician's grants belong
  // in the clinician view). In memory only, like the rest of the view (ADR 0124).
  const wards = h('nav', { class: 'wards', 'aria-label': 'Records you look after' });
  const found = h('div', { 'aria-live': 'polite' });
  /** Wards listed before and not now, with when that was seen: their record is not shown. */
  const ended = new Map<string, number>();
  const grants = new GrantsToMe({
    ask: () => ctx.client.accessToMe(ctx.session.signer),
    keep: (e) => e.via === 'guardian',
    now: () => ctx.client.now(),
    onError: (text) => (text ? replace(found, errorBox(text)) : replace(found)),
    onAnswer: ({ added, ended: gone }) => {
      // Unchanged: nothing redrawn (a ward's button may have the focus).
      if (added.length === 0 && gone.length === 0) return;
      for (const k of gone) {
        ended.set(k, Date.now());
        // Forms half filled in for that record go with it.
        for (const f of [...forms.keys()]) if (f.startsWith(`${k}:`)) forms.delete(f);
      }
      for (const k of added) ended.delete(k);
      renderWards();
      if (gone.includes(subject) || added.includes(subject)) void render();
    },
  });

  function open(k: string) {
    subject = k;
    whose.value = '';
    renderWards();
    void render();
  }

  function renderWards() {
    const listed = [...grants.listed];
    if (listed.length === 0 && ended.size === 0) {
      replace(wards);
      return;
    }
    const button = (k: string, label: string) =>
      h(
        'li',
        null,
        h(
          'button',
          {
            type: 'button',
            class: 'quiet',
            'data-ward': k === me ? undefined : k,
            'aria-pressed': String(subject === k),
            onclick: () => open(k),
          },
          label,
        ),
      );
    replace(
      wards,
      h('h2', null, 'Records you look after'),
      h(
        'ul',
        { class: 'ward-list' },
        button(me, 'My own record'),
        listed.map((k) => button(k, `Patient ${shortKey(k)}`)),
      ),
    );
  }

  function endedBox(k: string, at: number): HTMLElement {
    return h(
      'p',
      { class: 'state error access-ended', role: 'alert' },
      `Access ended (${clock(at)}): you are no longer a guardian of patient ${shortKey(k)}. What was shown of their record has been cleared; it comes back if they appoint you again.`,
    );
  }

  function registerBox(): HTMLElement {
    return h(
      'div',
      { class: 'card' },
      h('p', null, 'This key is not registered as a patient yet.'),
      h(
        'button',
        {
          type: 'button',
          onclick: async () => {
            try {
              await ctx.client.submit(ctx.session.signer, { type: 20, patient: fromHex(me) });
              ctx.announce('Registered as a patient.');
              void render();
            } catch (e) {
              ctx.announce(`Could not register: ${problemText(e)}`);
            }
          },
        },
        'Register me as a patient',
      ),
    );
  }

  const submit = async (label: string, body: Parameters<typeof ctx.client.submit>[1]): Promise<boolean> => {
    try {
      await ctx.client.submit(ctx.session.signer, body);
      ctx.announce(`${label}: done.`);
      void render(true);
      return true;
    } catch (e) {
      ctx.announce(`${label} failed: ${problemText(e)}`);
      return false;
    }
  };

  // Forms survive the live refreshes of the lists around them (a half-typed key is not wiped).
  const forms = new Map<string, HTMLElement>();
  const cachedForm = (name: string, make: () => HTMLElement): HTMLElement => {
    const key = `${subject}:${name}`;
    if (!forms.has(key)) forms.set(key, make());
    return forms.get(key)!;
  };

  async function consentsTab(): Promise<HTMLElement> {
    const c = await get<Consents>('/consents');
    const grants = h('ul', { class: 'rows' });
    for (const g of c.grants) {
      const who =
        g.grantee.kind === 1 ? `Clinician ${shortKey(g.grantee.key)}` : `Organisation ${g.grantee.orgId}`;
      grants.append(
        h(
          'li',
          { class: 'row', 'data-grant': g.grantId },
          h(
            'div',
            null,
            h('strong', null, who),
            h('div', null, `May see ${categoryList(g.scopes)} for ${PURPOSE_LABELS[g.purpose] ?? g.purpose}`),
            h('small', null, `Granted ${time(g.grantedAt)}, expires ${time(g.expiresAt)}`),
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              'aria-label': `Revoke access of ${who}`,
              onclick: () =>
                submit('Revoke', { type: 41, patient: fromHex(subject), grantId: fromHex(g.grantId) }),
            },
            'Revoke',
          ),
        ),
      );
    }
    const emergencies = h('ul', { class: 'rows' });
    for (const e of c.emergencies) {
      emergencies.append(
        h(
          'li',
          { class: 'row emergency' },
          h(
            'div',
            null,
            h('strong', null, `Emergency access by ${shortKey(e.clinician)}`),
            h('div', null, `${e.reasonCode}: “${e.reason}”`),
            h('small', null, `Opened ${time(e.openedAt)}, ends ${time(e.expiresAt)}`),
          ),
        ),
      );
    }
    return h(
      'div',
      { class: 'stack' },
      h('h2', null, 'Who may see my data'),
      c.grants.length ? grants : empty('You have not granted anyone access.'),
      c.emergencies.length > 0 && h('h2', null, 'Emergency access now open'),
      c.emergencies.length > 0 && emergencies,
      cachedForm('grant', grantForm),
      h(
        'p',
        null,
        `Research use: ${c.researchOptIn ? 'you opted in' : 'not allowed'}. Guardians: ${c.guardians.length ? c.guardians.map(shortKey).join(', ') : 'none'}.`,
      ),
    );
  }

  function grantForm(): HTMLElement {
    const kind = h(
      'select',
      null,
      h('option', { value: '1' }, 'A clinician (by key)'),
      h('option', { value: '2' }, 'An organisation (by id)'),
    );
    const grantee = h('input', {
      type: 'text',
      required: true,
      autocomplete: 'off',
      spellcheck: 'false',
      name: 'grantee',
    });
    const scopeBox = h('fieldset', { class: 'scopes' }, h('legend', null, 'What they may see'));
    for (const s of SCOPES) {
      const id = uid('scope');
      scopeBox.append(
        h(
          'span',
          { class: 'check' },
          h('input', { type: 'checkbox', id, value: s, checked: s === 'vitals.*' || s === 'alerts' }),
          h('label', { for: id }, categoryLabel(s)),
        ),
      );
    }
    const purpose = h(
      'select',
      null,
      h('option', { value: '1' }, 'treatment'),
      h('option', { value: '2' }, 'research'),
    );
    const days = h('input', { type: 'number', min: 1, max: 365, value: 30, required: true });
    const status = h('div', { 'aria-live': 'polite' });
    return h(
      'form',
      {
        class: 'card',
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          const scopes = [...scopeBox.querySelectorAll<HTMLInputElement>('input:checked')].map(
            (i) => i.value,
          );
          const g = grantee.value.trim().toLowerCase();
          if (scopes.length === 0) return replace(status, errorBox('Choose at least one kind of data.'));
          if (kind.value === '1' && !HEX64.test(g))
            return replace(status, errorBox('A clinician key is 64 hexadecimal characters.'));
          replace(status, loading('Granting…'));
          const ok = await submit('Grant', {
            type: 40,
            patient: fromHex(subject),
            grantee: kind.value === '1' ? { kind: 1, key: fromHex(g) } : { kind: 2, orgId: g },
            scopes,
            purpose: Number(purpose.value) as 1 | 2,
            expiresAt: ctx.client.now() + Number(days.value) * 86_400_000,
          });
          replace(status);
          if (ok) grantee.value = '';
        },
      },
      h('h2', null, 'Grant access'),
      field('Grant to', kind),
      field('Key or organisation id', grantee),
      scopeBox,
      field('Purpose', purpose),
      field('Days until it expires', days),
      h('button', { type: 'submit' }, 'Grant access'),
      status,
    );
  }

  async function auditTab(): Promise<HTMLElement> {
    const items: AuditItem[] = [];
    let from = 0;
    // Oldest first from the node; bounded to 10 pages of 1,000 here.
    for (let page = 0; page < 10; page++) {
      const r = await get<{ items: AuditItem[]; nextHeight: number | null }>(
        `/audit?fromHeight=${from}&limit=1000`,
      );
      items.push(...r.items);
      if (r.nextHeight === null) break;
      from = r.nextHeight;
    }
    const list = h('ol', { class: 'rows audit', reversed: true });
    for (const i of items.reverse()) {
      list.append(
        h(
          'li',
          { class: `row event-${i.event}`, 'data-event': i.event },
          h(
            'div',
            null,
            h('span', null, describeAudit(i, me)),
            h('small', null, `${time(i.at)} · block ${i.height}`),
          ),
        ),
      );
    }
    return h(
      'div',
      { class: 'stack' },
      h('h2', null, 'Who looked at my record'),
      h(
        'p',
        null,
        'Every read by someone other than you, and every change to who may read, is written to the chain: nobody can remove an entry.',
      ),
      items.length ? list : empty('Nobody has looked at your record yet.'),
    );
  }

  async function devicesTab(): Promise<HTMLElement> {
    // The API has no device listing: devices are reconstructed from the audit trail's device events.
    const r = await get<{ items: AuditItem[]; nextHeight: number | null }>('/audit?limit=1000');
    const devices = new Map<string, { state: string; at: number }>();
    for (const i of r.items) {
      const d = Array.isArray(i.detail) ? i.detail[0] : i.detail;
      if (typeof d !== 'string' || !HEX64.test(d)) continue;
      if (i.event === 'deviceBound') devices.set(d, { state: 'active', at: i.at });
      if (i.event === 'deviceSuspended') {
        const suspended = Array.isArray(i.detail) ? i.detail[1] !== false : true;
        devices.set(d, { state: suspended ? 'suspended' : 'active', at: i.at });
      }
      if (i.event === 'deviceRevoked') devices.set(d, { state: 'revoked', at: i.at });
    }
    const list = h('ul', { class: 'rows' });
    for (const [key, d] of devices) {
      list.append(
        h(
          'li',
          { class: 'row', 'data-device': key },
          h(
            'div',
            null,
            h('strong', null, `Device ${shortKey(key)}`),
            h('div', null, d.state),
            h('small', null, `since ${time(d.at)}`),
          ),
          d.state !== 'revoked' &&
            h(
              'div',
              { class: 'actions' },
              h(
                'button',
                {
                  type: 'button',
                  onclick: () =>
                    submit(d.state === 'suspended' ? 'Resume' : 'Suspend', {
                      type: 32,
                      device: fromHex(key),
                      suspended: d.state !== 'suspended',
                    }),
                },
                d.state === 'suspended' ? 'Resume' : 'Suspend',
              ),
              h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  onclick: () => submit('Revoke device', { type: 33, device: fromHex(key) }),
                },
                'Revoke',
              ),
            ),
        ),
      );
    }
    return h(
      'div',
      { class: 'stack' },
      h('h2', null, 'My devices'),
      devices.size ? list : empty('No devices are bound to this record.'),
      cachedForm('device', deviceForm),
    );
  }

  function deviceForm(): HTMLElement {
    const devKey = h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' });
    const days = h('input', { type: 'number', min: 1, max: 730, value: 365, required: true });
    const status = h('div', { 'aria-live': 'polite' });
    const form = h(
      'form',
      {
        class: 'card',
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          const k = devKey.value.trim().toLowerCase();
          if (!HEX64.test(k)) return replace(status, errorBox('A device key is 64 hexadecimal characters.'));
          const now = ctx.client.now();
          const ok = await submit('Bind device', {
            type: 30,
            device: fromHex(k),
            patient: fromHex(subject),
            validFrom: now - 60_000,
            validUntil: now + Number(days.value) * 86_400_000,
          });
          replace(status);
          if (ok) devKey.value = '';
        },
      },
      h('h2', null, 'Bind a device'),
      field('Device public key', devKey, 'Shown by the wearable’s setup (sensor-client key file).'),
      field('Valid for (days)', days),
      h('button', { type: 'submit' }, 'Bind device'),
      status,
    );
    return form;
  }

  const whose = h('input', {
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'your own record',
  });
  const whoseForm = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const k = whose.value.trim().toLowerCase();
        if (k && !HEX64.test(k)) return ctx.announce('A patient key is 64 hexadecimal characters.');
        subject = k || me;
        renderWards();
        void render();
        // A record whose access ended is shown as such until the node lists it again: ask now.
        if (ended.has(subject)) void grants.check();
      },
    },
    field('Record of (guardians: the patient’s key)', whose),
    h('button', { type: 'submit' }, 'Open'),
  );

  // Live: when blocks arrive (throttled: the charts need not redraw more than once per 3 s), ask who
  // this key is a guardian of (a removal clears the record at once, without reading it), then refresh the
  // open tab; at once on an alert for this record.
  let disposed = false;
  const refresh = throttle(
    () =>
      void grants.check().then(() => {
        // Signed out meanwhile (a throttled call may still come): nothing is read with the old key.
        if (disposed || ended.has(subject)) return;
        if (tab === 'vitals') void panel?.refresh();
        else if (!content.querySelector('form :focus')) void render(true);
      }),
    3_000,
  );
  const offBlock = feed.onBlock(refresh);
  const offAlert = feed.onAlert((a) => {
    // The node let an alert through for a ward shown as ended: they appointed this key again.
    if (ended.has(a.patient)) void grants.check();
    else if (a.patient === subject) panel?.onAlert(a);
  });
  // Events sent while the stream was down are not replayed: re-read once it is back.
  const offResume = feed.onResume(refresh);

  const el = h(
    'main',
    { id: 'main', class: 'view' },
    h('h1', null, 'My record'),
    wards,
    found,
    whoseForm,
    tabList,
    content,
  );
  select('vitals');
  void grants.check();
  return {
    el,
    dispose: () => {
      disposed = true;
      offBlock();
      offAlert();
      offResume();
      grants.dispose();
      panel?.dispose();
    },
  };
}
