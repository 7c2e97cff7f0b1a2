// The dashboard draws the state machine's default alert thresholds as chart bands; its copy must not
// drift from the values that actually raise alerts.
import t from 'tap';
import { DEFAULT_THRESHOLDS as STATE_MACHINE } from '../../src/state-machine/index.ts';
import { DEFAULT_THRESHOLDS as DASHBOARD } from './thresholds.ts';

t.same(DASHBOARD, STATE_MACHINE, 'the dashboard bands equal the state machine defaults');
