// A clinician's list of patients lasts as long as the tab's session: it is kept in sessionStorage, never
// in localStorage (which outlives the tab and the sign-out on a shared workstation), per clinician key,
// and what comes back from storage is checked like any input. ADR 0124.
import t from 'tap';
import { loadPatientList, savePatientList } from './patient-list.ts';
import { browserStorage } from './testing/web-storage.ts';

const ME = '11'.repeat(32);
const P1 = 'ab'.repeat(32);
const P2 = 'cd'.repeat(32);

t.test('kept in this tab only, per clinician', async (t) => {
  const { local, session } = browserStorage(t);
  savePatientList(ME, [P1, P2]);
  t.same(loadPatientList(ME), [P1, P2]);
  t.same(local.keys(), [], 'nothing in localStorage');
  t.same(session.keys(), [`vigil.patients.${ME}`]);
  t.same(loadPatientList('22'.repeat(32)), [], "another clinician's key sees no list");
});

t.test('a malformed stored list is read as empty or filtered', async (t) => {
  const { session } = browserStorage(t);
  session.setItem(`vigil.patients.${ME}`, 'not json');
  t.same(loadPatientList(ME), []);
  session.setItem(`vigil.patients.${ME}`, JSON.stringify([P1, 'AB'.repeat(32), 7, '<script>']));
  t.same(loadPatientList(ME), [P1], 'only lower-case 64-hex keys');
  session.setItem(`vigil.patients.${ME}`, JSON.stringify({ P1 }));
  t.same(loadPatientList(ME), []);
});

t.test('storage the browser refuses: the list lasts as long as the page', async (t) => {
  const { session } = browserStorage(t);
  session.setItem = () => {
    throw new DOMException('quota', 'QuotaExceededError');
  };
  t.doesNotThrow(() => savePatientList(ME, [P1]));
  t.same(loadPatientList(ME), []);
});
