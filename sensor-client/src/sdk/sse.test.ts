import t from 'tap';
import { SseParser } from './sse.ts';

t.test('events split across arbitrary chunk boundaries parse identically', async (t) => {
  const stream =
    ': keep-alive\r\nevent: block\r\ndata: {"height":1,\r\ndata: "txIds":[]}\r\n\r\n' +
    'event: block\ndata:{"height":2,"txIds":["ab"]}\nid: 7\n\n' +
    'data: plain\r\r';
  const whole = new SseParser().push(stream);
  t.same(whole, [
    { event: 'block', data: '{"height":1,\n"txIds":[]}', id: undefined },
    { event: 'block', data: '{"height":2,"txIds":["ab"]}', id: '7' },
    { event: 'message', data: 'plain', id: '7' },
  ]);
  for (let cut = 1; cut < stream.length; cut++) {
    const p = new SseParser();
    const evs = [...p.push(stream.slice(0, cut)), ...p.push(stream.slice(cut))];
    t.same(evs, whole, `cut at ${cut}`);
  }
});

t.test('an event with no data is not dispatched; oversized input is a typed error', async (t) => {
  t.same(new SseParser().push('event: block\n\n'), []);
  t.throws(() => new SseParser({ maxEventBytes: 10 }).push('data: 0123456789abcdef\n'), {
    code: 'MALFORMED_RESPONSE',
  });
  t.throws(() => new SseParser({ maxEventBytes: 10 }).push('data: 0123456789abcdef'), {
    code: 'MALFORMED_RESPONSE',
  });
});
