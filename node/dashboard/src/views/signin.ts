// Sign-in: import a key file or create a key in the browser, and pick the view to open. The key is not
// sent anywhere: the node only ever sees signatures made with it (ADR 0101).
import { errorBox, field, h, replace } from '../dom.ts';
import { KeyFileError, keyFileFor, newSeed, parseKeyFile, type Role } from '../session.ts';

const ROLE_LABELS: Record<Role, string> = {
  clinician: 'Clinician: my patients',
  patient: 'Patient or guardian: my record',
  operator: 'Operator: network and blocks',
};

/** `notice`: why the last session ended, when it was not the user's doing (an automatic sign-out). */
export function signInView(onSignIn: (seed: Uint8Array, role: Role) => void, notice?: string): HTMLElement {
  const role = h(
    'select',
    { name: 'role' },
    ...(Object.keys(ROLE_LABELS) as Role[]).map((r) => h('option', { value: r }, ROLE_LABELS[r])),
  );
  const file = h('input', { type: 'file', accept: '.json,application/json', name: 'keyfile' });
  const status = h('div', { 'aria-live': 'assertive' });
  const created = h('div');

  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    if (!f) return;
    try {
      const { seed } = parseKeyFile(await f.text());
      onSignIn(seed, role.value as Role);
    } catch (e) {
      replace(
        status,
        errorBox(e instanceof KeyFileError ? e.message : `Could not read the file: ${(e as Error).message}`),
      );
    }
  });

  const create = () => {
    const seed = newSeed();
    const text = keyFileFor(seed);
    const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    const pub = JSON.parse(text).publicKey as string;
    replace(
      created,
      h(
        'div',
        { class: 'card' },
        h(
          'p',
          null,
          'A new key was made in this browser. Save the key file now: it is the only copy, and whoever holds it can act as you.',
        ),
        h('p', null, 'Public key: ', h('code', { class: 'key' }, pub)),
        h(
          'a',
          { href: url, download: `vigil-key-${pub.slice(0, 8)}.json`, class: 'button' },
          'Download key file',
        ),
        ' ',
        h(
          'button',
          { type: 'button', onclick: () => onSignIn(seed, role.value as Role) },
          'Continue with this key',
        ),
      ),
    );
  };

  return h(
    'main',
    { id: 'main', class: 'signin' },
    h('h1', null, 'Sign in to Vigil'),
    notice && h('p', { class: 'state notice', role: 'status' }, notice),
    h(
      'p',
      null,
      'You sign in with your own key. It stays in this browser tab (memory and this tab’s session storage, cleared when you sign out or close the tab); the node only receives signatures made with it.',
    ),
    h(
      'form',
      { class: 'card', onsubmit: (e: Event) => e.preventDefault() },
      field('Open as', role),
      field(
        'Key file',
        file,
        'The JSON key file {"version":1,"seed","publicKey"} (npm start prints demo ones).',
      ),
      status,
      h('p', { class: 'or' }, 'or'),
      h('button', { type: 'button', onclick: create }, 'Create a new key in this browser'),
      created,
    ),
  );
}
