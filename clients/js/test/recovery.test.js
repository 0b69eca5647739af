// Recovery on one node: a client that lost its connection gets back, in order and once each, what
// was published while it was away (1,000 publications; publications racing the rejoin), a join from
// a saved position, and a recovery that fails because the history no longer holds the gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { startWsd, publishHTTP, waitFor } from './helpers/wsd.js';
import { testClient, messages, record, gate, sequenceProblems } from './helpers/client.js';

const HISTORY = ['-history.size', '5000'];

test('a client away during 1,000 publications recovers all of them, in order, none doubled', async (t) => {
  const wsd = await startWsd({ t, args: HISTORY });
  const g = gate(wsd.url);
  const { client, socket } = testClient(t, g.url);
  const events = record(client, ['connected', 'disconnected', 'recovered', 'recoveryFailed']);
  const inbox = messages();
  const joined = await client.join('feed', inbox.handler);
  for (let i = 0; i < 5; i++) await publishHTTP(wsd, 'feed', { i });
  await waitFor(() => inbox.got.length === 5, { what: 'the first five' });

  g.shut(); // the client may try to reconnect, but waits for the gate
  socket().drop();
  await waitFor(() => events.of('disconnected').length === 1, { what: 'the drop' });
  for (let i = 5; i < 1005; i++) await publishHTTP(wsd, 'feed', { i });

  let connectedAt = 0;
  client.on('connected', () => { connectedAt = performance.now(); });
  const recovered = client.once('recovered');
  g.open();
  const rec = await recovered;
  const took = performance.now() - connectedAt;
  t.diagnostic(`recovery of 1000 missed publications: ${took.toFixed(1)} ms from the reconnect to the recovered event`);

  assert.deepEqual(rec, { room: 'feed', missed: 1000, cause: 'reconnect', position: { offset: 1005, epoch: joined.epoch } });
  assert.equal(inbox.got.length, 1005); // every missed one was delivered before the event
  assert.deepEqual(sequenceProblems(inbox.got, 1, 1005), []);
  assert.deepEqual(inbox.got.map((m) => m.data.i), [...Array(1005).keys()]);
  assert.equal(events.of('recoveryFailed').length, 0);
  assert.deepEqual(client.position('feed'), { offset: 1005, epoch: joined.epoch });

  await publishHTTP(wsd, 'feed', { i: 1005 }); // and live ones follow
  await waitFor(() => inbox.got.length === 1006, { what: 'the next live one' });
  assert.equal(inbox.got[1005].offset, 1006);
});

test('publications racing repeated drops and rejoins are neither skipped nor doubled', async (t) => {
  const wsd = await startWsd({ t, args: HISTORY });
  const { client, socket } = testClient(t, wsd.url, { backoff: { min: 2, max: 20 } });
  const events = record(client, ['recovered', 'recoveryFailed']);
  const inbox = messages();
  await client.join('race', inbox.handler);
  await publishHTTP(wsd, 'race', { i: 0 }); // the room has history: it outlives its last member
  await waitFor(() => inbox.got.length === 1, { what: 'the first message' });

  const total = 3000;
  let published = 1;
  const publisher = (async () => {
    for (; published < total; published++) await publishHTTP(wsd, 'race', { i: published });
  })();
  let drops = 0;
  for (;;) {
    // drop again once the last drop was recovered and 100 more messages came
    const seen = inbox.got.length;
    await waitFor(() => events.of('recovered').length === drops &&
      (inbox.got.length >= seen + 100 || published >= total - 200), { what: 'progress' });
    if (published >= total - 200) break;
    socket().drop(); // while publications keep coming
    drops++;
  }
  await publisher;
  await waitFor(() => inbox.got.length >= total && events.of('recovered').length >= drops,
    { what: `all ${total} messages (have ${inbox.got.length})` });
  t.diagnostic(`${drops} drops while ${total} publications were made`);

  assert.ok(drops >= 5, `${drops} drops`);
  assert.deepEqual(sequenceProblems(inbox.got, 1, total), []);
  assert.deepEqual(inbox.got.map((m) => m.data.i), [...Array(total).keys()]);
  assert.equal(events.of('recoveryFailed').length, 0);
  assert.equal(events.of('recovered').length, drops);
  assert.equal(events.of('recovered').reduce((n, ev) => n + ev.missed, 0) <= total, true);
});

test('join with a saved position (a page reload) recovers what was published since', async (t) => {
  const wsd = await startWsd({ t, args: HISTORY });
  const first = testClient(t, wsd.url).client;
  const inbox1 = messages();
  await first.join('saved', inbox1.handler);
  for (let i = 0; i < 5; i++) await publishHTTP(wsd, 'saved', { i });
  await waitFor(() => inbox1.got.length === 5, { what: 'five messages' });
  const saved = first.position('saved');
  await first.close();
  for (let i = 5; i < 10; i++) await publishHTTP(wsd, 'saved', { i });

  const second = testClient(t, wsd.url).client;
  const events = record(second, ['recovered', 'recoveryFailed']);
  const inbox2 = messages();
  const ack = await second.join('saved', { onMessage: inbox2.handler, since: saved });
  assert.equal(ack.recovered, true);
  assert.equal(ack.missed, 5);
  assert.deepEqual(inbox2.got, [5, 6, 7, 8, 9].map((i) => ({ offset: i + 1, data: { i } })));
  assert.deepEqual(events.of('recovered'), [{ room: 'saved', missed: 5, cause: 'join', position: { offset: 10, epoch: saved.epoch } }]);

  const third = testClient(t, wsd.url).client;
  const bad = await third.join('saved', { since: { offset: 3, epoch: 'another-incarnation' } });
  assert.deepEqual([bad.recovered, bad.reason], [false, 'epoch']);
  const ahead = await third.join('saved-too', { since: { offset: 3, epoch: saved.epoch } });
  assert.equal(ahead.recovered, false);
});

test('when the history no longer holds the gap, recoveryFailed says "expired" and the client goes on from now', async (t) => {
  const wsd = await startWsd({ t, args: ['-history.size', '10'] });
  const g = gate(wsd.url);
  const { client, socket } = testClient(t, g.url);
  const events = record(client, ['disconnected', 'recovered', 'recoveryFailed']);
  const inbox = messages();
  const joined = await client.join('short', inbox.handler);
  await publishHTTP(wsd, 'short', { i: 0 });
  await waitFor(() => inbox.got.length === 1, { what: 'the first message' });
  g.shut();
  socket().drop();
  await waitFor(() => events.of('disconnected').length === 1, { what: 'the drop' });
  for (let i = 1; i <= 50; i++) await publishHTTP(wsd, 'short', { i });
  const failed = client.once('recoveryFailed');
  g.open();
  assert.deepEqual(await failed, {
    room: 'short', reason: 'expired', cause: 'reconnect',
    since: { offset: 1, epoch: joined.epoch }, position: { offset: 51, epoch: joined.epoch },
  });
  assert.equal(inbox.got.length, 1); // nothing replayed
  assert.deepEqual(client.position('short'), { offset: 51, epoch: joined.epoch });
  await publishHTTP(wsd, 'short', { i: 51 });
  await waitFor(() => inbox.got.length === 2, { what: 'the next live message' });
  assert.deepEqual(inbox.got[1], { offset: 52, data: { i: 51 } });
  assert.equal(events.of('recovered').length, 0);
});

test('a client in a quiet room (nothing published) recovers with nothing missed after a drop', async (t) => {
  const wsd = await startWsd({ t });
  const { client, socket } = testClient(t, wsd.url);
  await client.join('quiet');
  const outcome = Promise.race([client.once('recovered'), client.once('recoveryFailed')]);
  socket().drop();
  assert.deepEqual(await outcome, { room: 'quiet', missed: 0, cause: 'reconnect', position: client.position('quiet') });
});
