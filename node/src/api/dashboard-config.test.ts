// The dashboard reads its idle sign-out from the page; anything unreadable is the default, never "off".
import t from 'tap';
import {
  DEFAULT_IDLE_SIGN_OUT_MS,
  MAX_IDLE_SIGN_OUT_MS,
  MIN_IDLE_SIGN_OUT_MS,
  readIdleSignOutMs,
} from './dashboard-config.ts';

t.test('a readable setting within bounds is used; anything else is the default', async (t) => {
  t.equal(readIdleSignOutMs('300000'), 300_000);
  t.equal(readIdleSignOutMs(String(MIN_IDLE_SIGN_OUT_MS)), MIN_IDLE_SIGN_OUT_MS);
  t.equal(readIdleSignOutMs(String(MAX_IDLE_SIGN_OUT_MS)), MAX_IDLE_SIGN_OUT_MS);
  for (const bad of [
    null,
    undefined,
    '',
    '0',
    '-1',
    '1e6',
    '12.5',
    'never',
    String(MAX_IDLE_SIGN_OUT_MS + 1),
  ]) {
    t.equal(readIdleSignOutMs(bad), DEFAULT_IDLE_SIGN_OUT_MS, String(bad));
  }
});
