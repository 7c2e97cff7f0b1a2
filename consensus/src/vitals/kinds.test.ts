import t from 'tap';
import { checkReading, READING_KINDS, ReadingKind, readingCategory, readingKindSpec } from './kinds.ts';

t.test('every kind has a spec with its own code, a UCUM unit and a sane range', async (t) => {
  t.equal(READING_KINDS.length, 8);
  for (const kind of READING_KINDS) {
    const spec = readingKindSpec(kind)!;
    t.equal(spec.kind, kind);
    t.ok(spec.min < spec.max);
    t.ok(Number.isInteger(spec.scale) && spec.scale >= 1);
  }
  t.equal(readingKindSpec(0), undefined);
  t.equal(readingKindSpec(9), undefined);
  t.equal(readingKindSpec(1.5), undefined);
  t.equal(readingCategory(ReadingKind.heartRate), 'vitals.heartRate');
  t.equal(readingCategory(ReadingKind.temperature), 'vitals.temperature');
});

t.test('checkReading rejects wrong units, fractions and implausible values', async (t) => {
  t.equal(checkReading(ReadingKind.heartRate, 72, '/min'), undefined);
  t.equal(checkReading(ReadingKind.heartRate, 72, 'bpm'), 'wrongUnit');
  t.equal(checkReading(ReadingKind.heartRate, 72.5, '/min'), 'notInteger');
  t.equal(checkReading(ReadingKind.heartRate, 19, '/min'), 'implausible');
  t.equal(checkReading(ReadingKind.heartRate, 20, '/min'), undefined);
  t.equal(checkReading(ReadingKind.heartRate, 300, '/min'), undefined);
  t.equal(checkReading(ReadingKind.heartRate, 301, '/min'), 'implausible');
  t.equal(checkReading(ReadingKind.temperature, 365, 'Cel'), undefined);
  t.equal(checkReading(ReadingKind.temperature, 98, 'Cel'), 'implausible', 'Fahrenheit-looking value');
  t.equal(checkReading(ReadingKind.spo2, 101, '%'), 'implausible');
  t.equal(checkReading(ReadingKind.systolicBp, 120, 'mm[Hg]'), undefined);
  t.equal(checkReading(ReadingKind.supplementalOxygen, 2, '{bool}'), 'implausible');
  t.equal(checkReading(ReadingKind.consciousness, 4, '{ACVPU}'), undefined);
  t.equal(checkReading(42, 1, '/min'), 'unknownKind');
});
