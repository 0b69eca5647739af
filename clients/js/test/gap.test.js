// Gap detection: wsd drops messages for a connection over max_backpressure (slow_consumer: drop);
// the client sees the jump in offsets, rejoins the room from its last offset, and gets the dropped
// messages back from the history, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWsd, publishHTTP, metric, waitFor } from './helpers/wsd.js';
import { testClient, messages, record, sequenceProblems } from './helpers/client.js';

const NO_RATE_LIMIT = ['-rate-limit.messages', '0', '-rate-limit.bytes', '0'];

test('messages dropped for a slow consumer are detected by their offsets and recovered', async (t) => {
  const wsd = await startWsd({ t, args: ['-max-backpressure', '64KiB', '-history.size', '10000', ...NO_RATE_LIMIT] });
  const { client, socket } = testClient(t, wsd.url);
  const publisher = testClient(t, wsd.url).client;
  const events = record(client, ['recovered', 'recoveryFailed', 'disconnected']);
  const inbox = messages();
  await client.join('firehose', inbox.handler);
  await publisher.join('firehose');

  // Stop reading: once the kernel buffers are full, wsd queues up to 64 KiB for the connection, then
  // drops. Publish until it has dropped some, in batches small enough for the replay of the dropped
  // ones to stay under max_backpressure (see the todo test below).
  socket().pause();
  const pad = 'x'.repeat(2000);
  let n = 0;
  while (!((await metric(wsd, 'wsd_dropped_messages_total')) > 0)) {
    await Promise.all(Array.from({ length: 20 }, () => publisher.publish('firehose', { i: n++, pad })));
    assert.ok(n < 50000, 'wsd never dropped a message for the paused connection');
  }
  const dropped = await metric(wsd, 'wsd_dropped_messages_total');
  socket().resume();
  // The connection drains its queue before it takes new messages again: publish until one gets
  // through, its offset jumps, and the client recovers.
  for (let tail = 0; events.of('recovered').length === 0; tail++) {
    assert.ok(tail < 1000, `no gap recovery after ${tail} more publications`);
    await publisher.publish('firehose', { i: n++, pad });
    await new Promise((r) => setTimeout(r, 20));
  }
  await waitFor(() => inbox.got.length === n, { what: `all ${n} messages (have ${inbox.got.length})` });
  t.diagnostic(`${n} publications, ${dropped} dropped by wsd and recovered`);
  assert.deepEqual(sequenceProblems(inbox.got, 1, n), []);
  assert.deepEqual(inbox.got.map((m) => m.data.i), [...Array(n).keys()]);
  const rec = events.of('recovered');
  assert.ok(rec.length >= 1);
  assert.equal(rec[0].room, 'firehose');
  assert.equal(rec[0].cause, 'gap');
  assert.ok(rec[0].missed >= dropped, `missed ${rec[0].missed} >= dropped ${dropped}`);
  assert.equal(events.of('recoveryFailed').length, 0);
  assert.equal(events.of('disconnected').length, 0); // recovered on the same connection
});

// A replay larger than max_backpressure goes out whole, and the join's acknowledgement after it: wsd
// never drops recovered publications or replies for a slow consumer (it used to drop the
// acknowledgement, and the client waited for it forever).
test('the acknowledgement of a recovery larger than max_backpressure arrives', {
  timeout: 8000,
}, async (t) => {
  const wsd = await startWsd({ t, args: ['-max-backpressure', '64KiB', '-history.size', '10000'] });
  let epoch;
  for (let i = 0; i < 20; i++) ({ epoch } = await publishHTTP(wsd, 'big', { i, pad: 'x'.repeat(8000) }));
  const { client } = testClient(t, wsd.url, { timeout: 3000 });
  const inbox = messages();
  const ack = await client.join('big', { onMessage: inbox.handler, since: { offset: 0, epoch } });
  assert.deepEqual([ack.recovered, ack.missed, inbox.got.length], [true, 20, 20]);
  assert.equal(await metric(wsd, 'wsd_dropped_messages_total'), 0);
});
