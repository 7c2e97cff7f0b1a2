// The dashboard in a real browser (Debian's Chromium driven by playwright-core) against a live
// in-process network: sign-in with a key file and with a key made in the browser; a patient registers,
// binds a wearable and grants a clinician access, and the clinician then sees the data; an alert
// appears live on the clinician's panel and is acknowledged; a revoke removes access; a break-glass
// session shows up in the patient's audit view; the operator explorer verifies an inclusion proof; alerts
// are caught up after a stream outage, and a gap in what the node sends again is said; patients who
// granted access are listed by themselves, at sign-in, on a grant's block and when an alert names one not
// listed ("grants to me", ADR 0130); a revoked grant clears its panel, off screen too, and a grant again
// brings it back; a guardian is offered their wards, and a removal clears the record shown (ADR 0132); a
// tab left idle is signed out.
// Screenshots of every view at phone and desktop sizes are written to node/dashboard/screenshots/.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, sha256, toHex } from '@vigil/consensus/wire';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import t from 'tap';
import { signRequest } from '../src/api/signed-request-client.ts';
import { Actor, startTestNode } from '../src/api/testing/node.ts';
import { DASHBOARD_DIR, ensureDashboardBuilt } from './build.ts';
import { shortKey } from './src/format.ts';
import { keyFileFor } from './src/session.ts';

const CHROMIUM = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.VIGIL_SCREENSHOTS ?? join(DASHBOARD_DIR, 'screenshots');
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
// Generous for a 2-core CI machine shared with other suites; every wait ends as soon as it is met.
const WAIT = 30_000;

if (!existsSync(CHROMIUM)) {
  // Not a skip: CI installs Chromium (.ci/run), so its absence is a broken machine, said plainly.
  t.fail(
    `Chromium not found at ${CHROMIUM}. Install Debian's package (apt-get install -y --no-install-recommends chromium) or set VIGIL_CHROMIUM to a Chromium binary.`,
  );
  t.end();
} else {
  await run();
}

async function run() {
  await ensureDashboardBuilt();
  mkdirSync(SHOTS, { recursive: true });
  const keys = mkdtempSync(join(tmpdir(), 'vigil-dash-keys-'));
  // The patient's and clinician's key files: removed with the run, like every test's temp dir.
  t.teardown(() => rmSync(keys, { recursive: true, force: true }));

  // Few alerts sent again to a resuming stream (4,096 by default), so that an outage can outrun them (ADR 0130).
  const node = await startTestNode({ maxReplayedAlerts: 4 });
  t.teardown(() => node.close());
  await node.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = node.app.server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const { chainId } = node;

  // The cast: a clinician enrolled by hospital-0's admin, a patient and their wearable. The patient's
  // own transactions are all made through the dashboard.
  const seedOf = (label: string) => new Actor(label, chainId);
  const clinician = seedOf('dash-clinician');
  const patient = seedOf('dash-patient');
  const device = seedOf('dash-device');
  const P = toHex(patient.key);
  const C = toHex(clinician.key);
  const D = toHex(device.key);
  const seedFile = (name: string, label: string) => {
    const path = join(keys, `${name}.json`);
    // The same derivation as the test Actor: seed = SHA-256(utf8(label)).
    writeFileSync(path, keyFileFor(sha256(new TextEncoder().encode(label))));
    return path;
  };
  const clinicianFile = seedFile('clinician', 'dash-clinician');
  const patientFile = seedFile('patient', 'dash-patient');

  /** Commits a transaction; its id (a grant's id is its transaction's). */
  const commit = async (bytes: Uint8Array): Promise<string> => {
    const r = await node.app.inject({
      method: 'POST',
      url: '/v1/transactions?wait=commit&timeoutMs=20000',
      headers: { 'content-type': 'application/cbor' },
      payload: Buffer.from(bytes),
    });
    if (r.statusCode !== 200 || r.json().status !== 'committed') throw new Error(`not committed: ${r.body}`);
    return r.json().id as string;
  };
  await commit(node.admin.bytes({ type: 10, publicKey: clinician.key, licenceId: 'GMC-DASH' }));

  const reading = (kind: number, value: number, unit: string, at: number) => ({
    kind,
    value,
    unit,
    measuredAt: at,
  });
  const normalSet = (at: number) => [
    reading(1, 72, '/min', at),
    reading(2, 97, '%', at),
    reading(3, 124, 'mm[Hg]', at),
    reading(4, 80, 'mm[Hg]', at),
    reading(5, 368, 'Cel', at),
    reading(6, 14, '/min', at),
  ];

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
  t.teardown(() => browser.close());

  const pageErrors: string[] = [];
  const open = async (ctx: BrowserContext): Promise<Page> => {
    const page = await ctx.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // The page runs under a strict CSP (no inline style or script): anything it blocks is a bug, and
    // Chromium reports it only on the console.
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) pageErrors.push(`CSP: ${m.text()}`);
    });
    return page;
  };
  const signIn = async (page: Page, role: string, file: string) => {
    await page.goto(`${base}/signin`);
    await page.getByLabel('Open as').selectOption(role);
    await page.getByLabel('Key file').setInputFiles(file);
    await page.waitForURL(`${base}/${role}`);
  };
  const shoot = async (page: Page, name: string) => {
    for (const [size, vp] of [
      ['phone', PHONE],
      ['desktop', DESKTOP],
    ] as const) {
      await page.setViewportSize(vp);
      // Toasts are transient overlays: keep them out of the record of the layout.
      await page.evaluate(() => {
        for (const el of document.querySelectorAll('.toast')) el.remove();
      });
      // Charts follow their container's width (ResizeObserver): let them settle at this size.
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(SHOTS, `${name}-${size}.png`), fullPage: true });
      // Nothing may push the page sideways (a canvas or a long key wider than the screen).
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      if (width > vp.width)
        throw new Error(`${name}: the page is ${width}px wide in a ${vp.width}px viewport`);
    }
  };

  const patientCtx = await browser.newContext({ viewport: DESKTOP });
  const clinicianCtx = await browser.newContext({ viewport: DESKTOP });
  // Counts the clinician page's ResizeObservers still observing: a panel's must be disconnected when it
  // goes, else each holds its panel and charts (an init script: the page's CSP does not apply to it).
  await clinicianCtx.addInitScript(() => {
    const Native = window.ResizeObserver;
    let observing = 0;
    Object.assign(window, { __observingResize: () => observing });
    window.ResizeObserver = class extends Native {
      #on = false;
      override observe(target: Element, options?: ResizeObserverOptions) {
        if (!this.#on) observing++;
        this.#on = true;
        super.observe(target, options);
      }
      override disconnect() {
        if (this.#on) observing--;
        this.#on = false;
        super.disconnect();
      }
    };
  });
  const observingResize = (page: Page) =>
    page.evaluate(() => (window as unknown as { __observingResize: () => number }).__observingResize());
  const pp = await open(patientCtx);
  const cp = await open(clinicianCtx);

  await t.test('served at / with its security headers; sign-in page', async (t) => {
    const res = await cp.goto(`${base}/`);
    t.equal(res?.status(), 200);
    t.match(res?.headers()['content-security-policy'] ?? '', /default-src 'self'/);
    await cp.getByRole('heading', { name: 'Sign in to Vigil' }).waitFor();
    await shoot(cp, 'signin');
  });

  await t.test('a key created in the browser signs in; a wrong file is refused with a message', async (t) => {
    const ctx = await browser.newContext({ viewport: PHONE });
    const page = await open(ctx);
    await page.goto(`${base}/signin`);
    const bad = join(keys, 'bad.json');
    writeFileSync(bad, JSON.stringify({ version: 1, seed: 'ab'.repeat(32), publicKey: '00'.repeat(32) }));
    await page.getByLabel('Key file').setInputFiles(bad);
    await page.getByRole('alert').filter({ hasText: 'does not belong to its seed' }).waitFor();
    await page.getByLabel('Open as').selectOption('patient');
    await page.getByRole('button', { name: 'Create a new key in this browser' }).click();
    const pub = (await page.locator('code.key').textContent()) ?? '';
    t.match(pub, /^[0-9a-f]{64}$/);
    t.ok(await page.getByRole('link', { name: 'Download key file' }).getAttribute('download'));
    await page.getByRole('button', { name: 'Continue with this key' }).click();
    await page.waitForURL(`${base}/patient`);
    t.match((await page.locator('.who-key').getAttribute('title')) ?? '', pub, 'signed in with the new key');
    // The seed lives in this tab's sessionStorage only; nothing was stored in localStorage.
    t.equal(await page.evaluate(() => localStorage.length), 0);
    await ctx.close();
  });

  await t.test('the patient registers, binds a wearable and grants the clinician access', async (t) => {
    await signIn(pp, 'patient', patientFile);
    await pp.getByRole('tab', { name: 'Consents' }).click();
    await pp.getByRole('button', { name: 'Register me as a patient' }).click();
    await pp.getByRole('heading', { name: 'Who may see my data' }).waitFor();
    await pp.getByRole('tab', { name: 'Devices' }).click();
    await pp.getByLabel('Device public key').fill(D);
    await pp.getByRole('button', { name: 'Bind device' }).click();
    await pp.locator(`[data-device="${D}"]`).waitFor();
    const now = Date.now();
    await commit(device.bytes({ type: 50, patient: patient.key, readings: normalSet(now - 120_000) }));
    await commit(device.bytes({ type: 50, patient: patient.key, readings: normalSet(now - 60_000) }));
    await pp.getByRole('tab', { name: 'Consents' }).click();
    await pp.getByLabel('Key or organisation id').fill(C);
    await pp.getByRole('button', { name: 'Grant access' }).click();
    await pp.locator('[data-grant]').filter({ hasText: 'all vital signs, alerts' }).waitFor();
    t.pass('grant listed');
    await shoot(pp, 'patient-consents');
    await pp.getByRole('tab', { name: 'Devices' }).click();
    await pp.locator(`[data-device="${D}"]`).waitFor();
    await shoot(pp, 'patient-devices');
    await pp.getByRole('tab', { name: 'My vitals' }).click();
    await pp.locator('.tile[data-kind="1"] .tile-value').filter({ hasText: '72 /min' }).waitFor();
    await shoot(pp, 'patient-vitals');
  });

  await t.test('the clinician sees the patient after the grant', async (t) => {
    await signIn(cp, 'clinician', clinicianFile);
    await cp.getByLabel('Add a patient by key').fill(P);
    await cp.getByRole('button', { name: 'Add patient' }).click();
    const panel = cp.locator(`[data-patient="${P}"]`);
    await panel.locator('.badge.via-grant').waitFor();
    await panel.locator('.tile[data-kind="1"] .tile-value').filter({ hasText: '72 /min' }).waitFor();
    // A refresh (a new block) rebuilds the panel and draws its charts in the next animation frame
    // (panel.ts: they need the laid-out width), so for one frame there are none: count them once the
    // sixth is there, and again if a refresh came in between.
    const charts = panel.locator('.chart');
    let count = 0;
    for (let attempt = 0; attempt < 50; attempt++) {
      await charts.nth(5).waitFor();
      count = await charts.count();
      if (count === 6) break;
    }
    t.equal(count, 6, 'one chart per device-reported vital sign');
    t.match(await panel.getByTestId('news2').textContent(), /NEWS2/);
    // The list of patients names whom this clinician looked at: this tab's sessionStorage holds it,
    // localStorage (which outlives the tab and the sign-out) nothing (ADR 0124).
    t.equal(await cp.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
    const tab = (await cp.evaluate(() => Object.keys(sessionStorage))).sort();
    t.same(tab, [`vigil.patients.${C}`, 'vigil.session'], "this tab's session: the seed and the list");
  });

  await t.test('an alert appears live and is acknowledged', async (t) => {
    const panel = cp.locator(`[data-patient="${P}"]`);
    await panel.getByText('No open alerts.').waitFor();
    // The wearable reports a heart rate above the default threshold (130/min).
    await commit(
      device.bytes({ type: 50, patient: patient.key, readings: [reading(1, 152, '/min', Date.now())] }),
    );
    const alert = panel.locator('.alert-item').filter({ hasText: 'Heart rate above its threshold' });
    await alert.waitFor();
    await cp.locator('.toast').filter({ hasText: 'New alert' }).first().waitFor();
    await shoot(cp, 'clinician');
    await alert.getByRole('button', { name: 'Acknowledge' }).click();
    await cp.locator('.toast').filter({ hasText: 'acknowledged' }).first().waitFor();
    await alert.waitFor({ state: 'detached' });
    t.pass('acknowledged: gone from the open alerts');
  });

  // A second patient and wearable, for the outage tests (their nonces continue from one to the next).
  const other = seedOf('dash-patient-2');
  const wearable = seedOf('dash-device-2');

  await t.test(
    'an alert raised while the live stream was down reaches the clinician when it is back',
    async (t) => {
      // A second patient, not in the clinician's list, who grants access while the clinician is offline
      // (made directly on the chain; online, the block would list them at once).
      const O = toHex(other.key);
      const now = Date.now();
      await commit(other.bytes({ type: 20, patient: other.key }));
      await commit(
        other.bytes({
          type: 30,
          device: wearable.key,
          patient: other.key,
          validFrom: now - 60_000,
          validUntil: now + 86_400_000,
        }),
      );
      // The clinician's network drops, and the live stream with it: offline stops new requests only,
      // so the node's open connections are cut too (the patient's page reconnects at once).
      await clinicianCtx.setOffline(true);
      t.teardown(() => clinicianCtx.setOffline(false));
      node.app.server.closeAllConnections();
      await cp.locator('.feed-down').filter({ hasText: 'Live updates interrupted' }).waitFor();
      await commit(
        other.bytes({
          type: 40,
          patient: other.key,
          grantee: { kind: 1, key: clinician.key },
          scopes: ['vitals.*', 'alerts'],
          purpose: 1,
          expiresAt: now + 86_400_000,
        }),
      );
      // Meanwhile the second patient's wearable reports a heart rate above the threshold.
      await commit(
        wearable.bytes({ type: 50, patient: other.key, readings: [reading(1, 155, '/min', Date.now())] }),
      );
      t.equal(await cp.locator(`section[data-patient="${O}"]`).count(), 0, 'not listed while offline');
      await clinicianCtx.setOffline(false);
      // Back: the feed asks for what it missed, and the alert comes as a live one would: the patient is
      // added, the panel shows it, and a notice says so.
      const panel = cp.locator(`section[data-patient="${O}"]`);
      await panel.locator('.alert-item').filter({ hasText: 'Heart rate above its threshold' }).waitFor();
      // The heart rate's own alert (NEWS2 may raise one of its own as well).
      const notice = cp
        .locator('.toast')
        .filter({ hasText: `New alert for patient ${shortKey(O)}: Heart rate above its threshold` });
      await notice.first().waitFor();
      await cp.locator('.feed-down').waitFor({ state: 'hidden' });
      t.equal(await panel.count(), 1, 'one panel');
      t.equal(await notice.count(), 1, 'one notice: the alert was not shown twice');
    },
  );

  await t.test(
    'alerts the node does not send again after an outage: a notice that stays until dismissed',
    async (t) => {
      const O = toHex(other.key);
      await clinicianCtx.setOffline(true);
      t.teardown(() => clinicianCtx.setOffline(false));
      node.app.server.closeAllConnections();
      await cp.locator('.feed-down').filter({ hasText: 'Live updates interrupted' }).waitFor();
      // Five vital signs out of range at once (the heart rate's alert is still open): five alerts or more in
      // one block, past the 4 this node holds, so it cannot send them all when the clinician is back.
      await commit(
        wearable.bytes({
          type: 50,
          patient: other.key,
          readings: [
            reading(2, 85, '%', Date.now()),
            reading(3, 85, 'mm[Hg]', Date.now()),
            reading(4, 130, 'mm[Hg]', Date.now()),
            reading(5, 395, 'Cel', Date.now()),
            reading(6, 30, '/min', Date.now()),
          ],
        }),
      );
      await clinicianCtx.setOffline(false);
      const notice = cp.getByRole('alert').filter({ hasText: 'could not all be caught up' });
      await notice.waitFor();
      // The listed panels were read again: the second patient's shows the new alerts.
      await cp
        .locator(`section[data-patient="${O}"] .alert-item`)
        .filter({ hasText: 'SpO₂' })
        .first()
        .waitFor();
      await cp.locator('.feed-down').waitFor({ state: 'hidden' });
      t.equal(await notice.count(), 1, 'one notice, still shown once the stream is back');
      await notice.getByRole('button', { name: 'Dismiss' }).click();
      await notice.waitFor({ state: 'detached' });
      t.pass('dismissed');
    },
  );

  await t.test(
    'patients who granted access are listed by themselves: at sign-in, on a grant, and on an alert naming one not listed',
    async (t) => {
      // A third patient grants the clinician access on the chain; nobody tells the clinician their key.
      const third = seedOf('dash-patient-3');
      const T = toHex(third.key);
      const grant = (who: Actor) =>
        commit(
          who.bytes({
            type: 40,
            patient: who.key,
            grantee: { kind: 1, key: clinician.key },
            scopes: ['vitals.*', 'alerts'],
            purpose: 1,
            expiresAt: Date.now() + 86_400_000,
          }),
        );
      await commit(third.bytes({ type: 20, patient: third.key }));
      await grant(third);
      // And a key added by hand that grants nothing: chosen, it is kept for the session only.
      const nobody = toHex(seedOf('dash-nobody').key);
      await cp.getByLabel('Add a patient by key').fill(nobody);
      await cp.getByRole('button', { name: 'Add patient' }).click();
      await cp.locator(`section[data-patient="${nobody}"]`).waitFor();
      // Sign out and in again: the node is asked who granted access, and the third patient is there.
      await cp.getByRole('button', { name: 'Sign out' }).click();
      await signIn(cp, 'clinician', clinicianFile);
      const panel = cp.locator(`section[data-patient="${T}"]`);
      await panel.locator('.badge.via-grant').waitFor();
      t.equal(
        await cp.locator(`section[data-patient="${nobody}"]`).count(),
        0,
        'the hand-added key did not come back',
      );
      const listed = (
        await cp
          .locator('section[data-patient]')
          .evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.patient))
      ).sort();
      const granted = (
        await node.app.inject({
          url: '/v1/me/patients',
          headers: signRequest({
            chainId,
            signer: clinician.signer,
            method: 'GET',
            target: '/v1/me/patients',
          }),
        })
      )
        .json()
        .items.map((i: { patient: string }) => i.patient);
      t.same(listed, [...new Set<string>(granted)].sort(), 'exactly the patients the node says grant access');
      t.ok(listed.includes(T), 'found through the query, not added');
      // Found, not chosen: this tab keeps nothing of them (ADR 0124).
      t.same(await cp.evaluate(() => Object.keys(sessionStorage)), ['vigil.session'], 'only the session');
      await shoot(cp, 'clinician-granted');

      // While signed in, a fourth patient grants access quietly: the block that commits the grant has the
      // node asked again (ADR 0132), and the patient appears. A fifth grants it and alerts: listed too.
      const fourth = seedOf('dash-patient-4');
      const fifth = seedOf('dash-patient-5');
      const fifthDevice = seedOf('dash-device-5');
      for (const p of [fourth, fifth]) {
        await commit(p.bytes({ type: 20, patient: p.key }));
        await grant(p);
      }
      // Found, it is read once on screen (a ward's worth of panels is not read at once).
      const quiet = cp.locator(`section[data-patient="${toHex(fourth.key)}"]`);
      await quiet.waitFor({ state: 'attached' });
      await quiet.scrollIntoViewIfNeeded();
      await quiet.locator('.badge.via-grant').waitFor();
      t.equal(
        await quiet.locator('.alert-item').count(),
        0,
        'the quiet grant was found on its block, with no alert',
      );
      const now = Date.now();
      await commit(
        fifth.bytes({
          type: 30,
          device: fifthDevice.key,
          patient: fifth.key,
          validFrom: now - 60_000,
          validUntil: now + 86_400_000,
        }),
      );
      await commit(
        fifthDevice.bytes({ type: 50, patient: fifth.key, readings: [reading(1, 160, '/min', Date.now())] }),
      );
      const alerting = cp.locator(`section[data-patient="${toHex(fifth.key)}"] .alert-item`);
      await alerting.first().waitFor();
      t.ok((await alerting.count()) >= 1, 'the alerting one is listed with its alert');
    },
  );

  // A patient with a wearable and an hour of normal readings, made on the chain: their key, and their
  // wearable (its nonces continue in the caller).
  const withReadings = async (label: string) => {
    const who = seedOf(label);
    const wearable = seedOf(`${label}-device`);
    const now = Date.now();
    await commit(who.bytes({ type: 20, patient: who.key }));
    await commit(
      who.bytes({
        type: 30,
        device: wearable.key,
        patient: who.key,
        validFrom: now - 3_600_000,
        validUntil: now + 86_400_000,
      }),
    );
    await commit(wearable.bytes({ type: 50, patient: who.key, readings: normalSet(now - 60_000) }));
    return { who, wearable, key: toHex(who.key) };
  };

  await t.test(
    'a revoked grant clears the panel, off screen too, and says access ended; granted again, it reads again',
    async (t) => {
      const { who: sixth, key: S } = await withReadings('dash-patient-6');
      const grantSixth = () =>
        commit(
          sixth.bytes({
            type: 40,
            patient: sixth.key,
            grantee: { kind: 1, key: clinician.key },
            scopes: ['vitals.*', 'alerts'],
            purpose: 1,
            expiresAt: Date.now() + 86_400_000,
          }),
        );
      const grantId = await grantSixth();
      // Added by key, so that it is listed whether or not the block's question found it first.
      await cp.getByLabel('Add a patient by key').fill(S);
      await cp.getByRole('button', { name: 'Add patient' }).click();
      const panel = cp.locator(`section[data-patient="${S}"]`);
      await panel.scrollIntoViewIfNeeded();
      await panel.locator('.tile[data-kind="1"] .tile-value').filter({ hasText: '72 /min' }).waitFor();
      // Off screen: the last of a long list on a phone, the page scrolled to its top. A block refreshes
      // only the panels on screen (refresh-scheduler.ts), so before ADR 0132 this one kept its values.
      await cp.setViewportSize(PHONE);
      t.teardown(() => cp.setViewportSize(DESKTOP));
      await cp.evaluate(() => window.scrollTo(0, 0));
      t.ok(
        await panel.evaluate((el) => el.getBoundingClientRect().top > window.innerHeight),
        'the panel is off screen',
      );
      await commit(sixth.bytes({ type: 41, patient: sixth.key, grantId: fromHex(grantId) }));
      const shown = panel.locator('.tile, .chart, .news2, .alert-item');
      let left = await shown.count();
      for (const until = Date.now() + WAIT; left > 0 && Date.now() < until; left = await shown.count())
        await cp.waitForTimeout(200);
      t.equal(left, 0, 'nothing of the revoked patient is left, though the panel is off screen');
      await panel.locator('.access-ended').filter({ hasText: 'Access ended' }).waitFor({ state: 'attached' });
      t.match(await panel.locator('.badge').textContent(), /access ended/);
      t.ok(
        await panel.evaluate((el) => el.getBoundingClientRect().top > window.innerHeight),
        'cleared while still off screen',
      );
      await panel.scrollIntoViewIfNeeded();
      await shoot(cp, 'clinician-access-ended');
      // Granted again: the panel reads again, without a reload.
      await grantSixth();
      await panel.scrollIntoViewIfNeeded();
      await panel.locator('.badge.via-grant').waitFor();
      await panel.locator('.tile[data-kind="1"] .tile-value').filter({ hasText: '72 /min' }).waitFor();
      t.equal(await panel.locator('.access-ended').count(), 0, 'access ended is no longer said');
    },
  );

  await t.test(
    'a guardian is offered the records they look after; removed, the one shown is cleared, and comes back when appointed again',
    async (t) => {
      const { who: ward, key: W } = await withReadings('dash-ward');
      const guardian = seedOf('dash-guardian');
      const guardianFile = seedFile('guardian', 'dash-guardian');
      await commit(ward.bytes({ type: 21, patient: ward.key, guardian: guardian.key }));
      const ctx = await browser.newContext({ viewport: DESKTOP });
      t.teardown(() => ctx.close());
      const gp = await open(ctx);
      await signIn(gp, 'patient', guardianFile);
      // Nobody typed the ward's key: the node lists the guardianship ("grants to me").
      const wards = gp.getByRole('navigation', { name: 'Records you look after' });
      const button = wards.locator(`button[data-ward="${W}"]`);
      await button.waitFor();
      t.equal(await button.textContent(), `Patient ${shortKey(W)}`);
      await button.click();
      t.equal(await button.getAttribute('aria-pressed'), 'true');
      const record = gp.locator(`section[data-patient="${W}"]`);
      await record.locator('.badge.via-guardian').waitFor();
      await record.locator('.tile[data-kind="1"] .tile-value').filter({ hasText: '72 /min' }).waitFor();
      t.match(
        await record.locator('h2').first().textContent(),
        `Patient ${shortKey(W)}`,
        "the ward's, not 'My'",
      );
      // The list of wards names patients: it lives in the view only, not in Web Storage (ADR 0124).
      t.same(await gp.evaluate(() => Object.keys(sessionStorage)), ['vigil.session'], 'only the session');
      t.equal(await gp.evaluate(() => localStorage.length), 0);
      await shoot(gp, 'guardian');
      // The ward removes the guardian: the record on screen is cleared and says access ended.
      await commit(ward.bytes({ type: 22, patient: ward.key, guardian: guardian.key }));
      const ended = gp.locator('.access-ended').filter({ hasText: 'Access ended' });
      await ended.waitFor();
      t.match(await ended.textContent(), /no longer a guardian of patient/);
      t.equal(await gp.locator('.tile, .chart, .news2').count(), 0, 'nothing of the record is left');
      t.equal(await button.count(), 0, 'no longer offered');
      // Another tab of the record reads nothing either.
      await gp.getByRole('tab', { name: 'Consents' }).click();
      await ended.waitFor();
      t.equal(await gp.getByRole('heading', { name: 'Who may see my data' }).count(), 0);
      await shoot(gp, 'guardian-access-ended');
      // Appointed again: offered again, and the open record reads again without a reload.
      await commit(ward.bytes({ type: 21, patient: ward.key, guardian: guardian.key }));
      await button.waitFor();
      await gp.getByRole('heading', { name: 'Who may see my data' }).waitFor();
      await gp.getByRole('tab', { name: 'My vitals' }).click();
      await record.locator('.tile[data-kind="1"] .tile-value').filter({ hasText: '72 /min' }).waitFor();
      t.equal(await ended.count(), 0, 'access ended is no longer said');
      // Sign-out leaves nothing naming the ward.
      await gp.getByRole('button', { name: 'Sign out' }).click();
      await gp.getByRole('heading', { name: 'Sign in to Vigil' }).waitFor();
      t.equal(await gp.locator('[data-ward], [data-patient]').count(), 0, 'no ward left on screen');
      t.same(await gp.evaluate(() => Object.keys(sessionStorage)), [], 'sessionStorage empty');
    },
  );

  await t.test('a revoke removes access; break-glass opens it and the patient sees it', async (t) => {
    await pp.getByRole('tab', { name: 'Consents' }).click();
    await pp.getByRole('button', { name: /^Revoke access of Clinician/ }).click();
    await pp.getByText('You have not granted anyone access.').waitFor();
    const panel = cp.locator(`[data-patient="${P}"]`);
    // The clinician's panel refreshes from the live feed (no reload): access is gone. (Panels off screen
    // are read when they come into view: the list is longer than the screen now.)
    await panel.scrollIntoViewIfNeeded();
    await panel.locator('.badge.via-none').waitFor();
    // "Grants to me" no longer lists the patient: the panel is cleared and says so (ADR 0132), and
    // break-glass is still offered.
    await panel.getByText(/Access ended .*This patient no longer grants you access/).waitFor();
    await shoot(cp, 'clinician-no-access');
    await panel.getByLabel('Reason', { exact: true }).fill('Collapsed on the ward, unresponsive');
    await panel.getByRole('button', { name: 'Open emergency access' }).click();
    await panel.locator('.badge.via-emergency').waitFor();
    await panel.locator('.tile[data-kind="1"] .tile-value').filter({ hasText: '/min' }).waitFor();
    await shoot(cp, 'clinician-emergency');
    await pp.getByRole('tab', { name: 'Who looked at my record' }).click();
    await pp.locator('[data-event="emergencyOpened"]').waitFor();
    // The clinician's emergency reads are recorded too (coalesced, by the serving validator).
    await pp.locator('[data-event="read"]').filter({ hasText: 'for emergency' }).first().waitFor();
    t.match(await pp.locator('[data-event="emergencyOpened"]').textContent(), /opened EMERGENCY/);
    await shoot(pp, 'patient-audit');
  });

  await t.test('operator: status, blocks, a transaction whose proof verifies in the browser', async (t) => {
    const ctx = await browser.newContext({ viewport: DESKTOP });
    const page = await open(ctx);
    await page.goto(`${base}/operator`);
    await page.getByRole('cell', { name: 'live' }).first().waitFor();
    // A block with transactions: a quiet chain also has blocks without any (ADR 0125).
    const blocks = page.locator('table', { has: page.locator('th', { hasText: 'Txs' }) }).locator('tbody tr');
    await blocks.first().waitFor();
    // Height and count read together, in one pass over the rows: the table re-renders as blocks arrive
    // (an idle primary's empty ones every quiet period), so a row index read first and used later may
    // name another block by then, perhaps one without transactions.
    const rows = await blocks.evaluateAll((trs) =>
      trs.map((tr) => ({
        height: tr.querySelector('button.link')?.textContent ?? '',
        txs: (tr as HTMLTableRowElement).cells[1]?.textContent?.trim() ?? '',
      })),
    );
    const withTxs = rows.find((r) => r.txs !== '0' && r.txs !== '' && r.height !== '');
    t.ok(withTxs !== undefined, 'a recent block with transactions');
    const height = withTxs?.height ?? '';
    const verdict = page.locator('p.ok').filter({ hasText: 'Proof verified in this browser' });
    // Its outcome too (ADR 0123), once a certified state holds the block's receipts: reopen until then.
    let outcome = '';
    for (let i = 0; i < 20 && !/outcome, proven/.test(outcome); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 250));
      await page.getByRole('button', { name: height, exact: true }).click();
      await page.locator('.detail .row button.link').first().click();
      await verdict.waitFor();
      if (i === 0) t.pass('proof verified');
      outcome = (await verdict.textContent()) ?? '';
    }
    t.match(
      outcome,
      /Its outcome, proven by the state certified at block #\d+: (accepted|rejected \(\w+\))\./,
    );
    // tx/s history from the block headers draws at once (the latency series starts when the page opens).
    await page.locator('.operator .uplot').waitFor();
    t.match(await page.locator('.detail').textContent(), /Type\s*\w+ \(\d+\)/, 'the type is named');
    await shoot(page, 'operator');
    await ctx.close();
  });

  await t.test('the patient suspends, resumes and revokes the wearable', async (t) => {
    await pp.getByRole('tab', { name: 'Devices' }).click();
    const row = pp.locator(`[data-device="${D}"]`);
    await row.getByRole('button', { name: 'Suspend' }).click();
    await row.getByText('suspended', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Resume' }).click();
    await row.getByText('active', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByText('revoked', { exact: true }).waitFor();
    t.equal(await row.getByRole('button').count(), 0, 'a revoked device has no actions');
    // The chain agrees: the revoked wearable's readings are refused.
    const r = await node.app.inject({
      method: 'POST',
      url: '/v1/transactions?wait=commit&timeoutMs=20000',
      headers: { 'content-type': 'application/cbor' },
      payload: Buffer.from(device.bytes({ type: 50, patient: patient.key, readings: normalSet(Date.now()) })),
    });
    t.match(
      r.json(),
      { status: 'rejected', code: 'DEVICE_REVOKED' },
      'readings of a revoked device are refused',
    );
  });

  await t.test('sign-out leaves nothing in the browser that names a patient', async (t) => {
    t.ok((await observingResize(cp)) > 0, "the panels' charts follow their width");
    await cp.getByRole('button', { name: 'Sign out' }).click();
    await cp.getByRole('heading', { name: 'Sign in to Vigil' }).waitFor();
    t.same(await cp.evaluate(() => Object.keys(localStorage)), [], 'localStorage empty');
    t.same(await cp.evaluate(() => Object.keys(sessionStorage)), [], 'sessionStorage empty');
    t.equal(await cp.locator('.toast').count(), 0, 'no notice naming a patient is left on screen');
    t.equal(await cp.locator('[data-patient]').count(), 0, 'no panel left');
    t.equal(await observingResize(cp), 0, "no panel's ResizeObserver left observing");
    // The next user of this tab signs in with the same key and finds no list of the browser's: only
    // the patients the node says grant access now (ADR 0130), read again from the node.
    await signIn(cp, 'clinician', clinicianFile);
    const granted = (
      await node.app.inject({
        url: '/v1/me/patients',
        headers: signRequest({ chainId, signer: clinician.signer, method: 'GET', target: '/v1/me/patients' }),
      })
    )
      .json()
      .items.map((i: { patient: string }) => i.patient);
    const want = [...new Set<string>(granted)].sort();
    t.ok(want.length > 0);
    await cp.locator(`section[data-patient="${want[0]}"]`).waitFor();
    const listed = (
      await cp
        .locator('section[data-patient]')
        .evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.patient))
    ).sort();
    t.same(listed, want, 'the list did not come back; the granted patients are asked for again');
    t.same(await cp.evaluate(() => Object.keys(sessionStorage)), ['vigil.session']);
  });

  await t.test('a tab left idle is warned, then signed out as by the button (ADR 0127)', async (t) => {
    // A node whose operator set a short automatic logoff (vigil start --idle-sign-out, in minutes; the
    // API option takes ms): the dashboard reads it from the page.
    const idleNode = await startTestNode({ dashboard: { idleSignOutMs: 10_000 } });
    t.teardown(() => idleNode.close());
    await idleNode.app.listen({ host: '127.0.0.1', port: 0 });
    const a = idleNode.app.server.address();
    const idleBase = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    const ctx = await browser.newContext({ viewport: PHONE });
    t.teardown(() => ctx.close());
    const page = await open(ctx);
    await page.goto(`${idleBase}/signin`);
    await page.getByLabel('Open as').selectOption('clinician');
    await page.getByLabel('Key file').setInputFiles(clinicianFile);
    await page.waitForURL(`${idleBase}/clinician`);
    await page.getByLabel('Add a patient by key').fill(P);
    await page.getByRole('button', { name: 'Add patient' }).click();
    await page.locator(`[data-patient="${P}"]`).waitFor();
    t.same(
      (await page.evaluate(() => Object.keys(sessionStorage))).sort(),
      [`vigil.patients.${C}`, 'vigil.session'],
      'signed in, with a list',
    );
    // Idle: the warning, with the focus on its first answer.
    const dialog = page.getByRole('alertdialog', { name: 'Are you still there?' });
    await dialog.waitFor();
    t.match(await dialog.textContent(), /you will be signed out in \d+ seconds?/);
    t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Stay signed in', 'focused');
    // One size only: the warning lasts 5 s here, and the answer below must come within it.
    await page.screenshot({ path: join(SHOTS, 'idle-warning-phone.png') });
    // Answered from the keyboard, where the focus is. (A click ends the warning at its pointerdown, which
    // Playwright's click, checking what is under the pointer then, reads as the button being covered.)
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    t.ok(await page.evaluate(() => sessionStorage.getItem('vigil.session') !== null), 'still signed in');
    // Idle again. A block on the chain meanwhile reaches the page's live feed: that is not activity.
    await dialog.waitFor();
    const admin = idleNode.admin;
    const r = await idleNode.app.inject({
      method: 'POST',
      url: '/v1/transactions?wait=commit&timeoutMs=20000',
      headers: { 'content-type': 'application/cbor' },
      payload: Buffer.from(admin.bytes({ type: 10, publicKey: clinician.key, licenceId: 'GMC-IDLE' })),
    });
    t.equal(r.json().status, 'committed');
    await page.getByRole('heading', { name: 'Sign in to Vigil' }).waitFor();
    await page
      .getByRole('status')
      .filter({ hasText: 'You were signed out after 10 seconds without activity' })
      .waitFor();
    t.same(await page.evaluate(() => Object.keys(sessionStorage)), [], 'sessionStorage empty');
    t.same(await page.evaluate(() => Object.keys(localStorage)), [], 'localStorage empty');
    t.equal(await page.locator('[data-patient]').count(), 0, 'no panel left');
    t.notOk(await dialog.isVisible(), 'the warning is gone');
    t.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0, 'nobody is signed in');
    await shoot(page, 'idle-signed-out');
  });

  t.same(pageErrors, [], 'no uncaught errors and no CSP violation in any page');
  t.comment(`screenshots in ${SHOTS}`);
}
