// Reconnects: wsd killed and restarted (a new epoch: recovery fails, and says why), requests made
// while disconnected, a publication whose acknowledgement was lost, close().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWsd, waitFor } from './helpers/wsd.js';
import { testClient, messages, record, wire } from './helpers/client.js';

// restart starts wsd again on the port of a server that was killed (retrying while the port is busy).
async function restart(t, old, args = []) {
  for (let i = 0; ; i++) {
    try {
      return await startWsd({ t, args, addr: old.addr });
    } catch (err) {
      if (i === 20 || !/address already in use/.test(err.message)) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

test('after wsd is killed and restarted the client reconnects, reports recoveryFailed "epoch", and sends what was queued', async (t) => {
  let wsd = await startWsd({ t });
  const { client, frames, sockets } = testClient(t, wsd.url);
  const events = record(client, ['connected', 'disconnected', 'reconnecting', 'recovered', 'recoveryFailed']);
  const inbox = messages();
  const joined = await client.join('r', inbox.handler);
  for (const n of [1, 2, 3]) await client.publish('r', { n });
  await waitFor(() => inbox.got.length === 3, { what: 'three messages' });
  const before = client.position('r');
  assert.deepEqual(before, { offset: 3, epoch: joined.epoch });

  await wsd.kill();
  await waitFor(() => events.of('disconnected').length === 1, { what: 'the disconnected event' });
  assert.equal(events.of('disconnected')[0].code, 1006);
  assert.equal(client.state === 'connecting' || client.state === 'disconnected', true);
  // requests made while disconnected wait for the reconnect and keep their order
  const queued = [client.publish('r', { n: 'q1' }), client.publish('r', { n: 'q2' }), client.publish('r', { n: 'q3' })];
  const lateJoin = client.join('later');
  await waitFor(() => events.of('reconnecting').length >= 2, { what: 'reconnect attempts' });

  wsd = await restart(t, wsd);
  const acks = await Promise.all(queued);
  const failed = events.of('recoveryFailed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0].room, 'r');
  assert.equal(failed[0].reason, 'epoch');
  assert.equal(failed[0].cause, 'reconnect');
  assert.deepEqual(failed[0].since, before);
  assert.notEqual(failed[0].position.epoch, before.epoch);
  assert.equal(failed[0].position.offset, 0);
  assert.equal(events.of('recovered').length, 0);
  assert.deepEqual(acks.map((a) => [a.offset, a.epoch]), [1, 2, 3].map((n) => [n, failed[0].position.epoch]));
  assert.equal((await lateJoin).room, 'later');

  await waitFor(() => inbox.got.length === 6, { what: 'the queued publications' });
  assert.deepEqual(inbox.got.slice(3), ['q1', 'q2', 'q3'].map((n, i) => ({ offset: i + 1, data: { n } })));
  assert.deepEqual(client.position('r'), { offset: 3, epoch: failed[0].position.epoch });
  const delays = events.of('reconnecting').map((e) => e.delay);
  for (const d of delays) assert.ok(d >= 10 && d <= 200, `backoff delay ${d} within [min/2, max]`);
  assert.deepEqual(events.of('reconnecting').map((e) => e.attempt), delays.map((_, i) => i + 1));
  assert.deepEqual(events.of('connected').at(-1), { reconnect: true });

  // on the new connection: the rejoins first, in join order, then the queued publications once the
  // room's rejoin was answered
  const last = wire(frames, sockets.length).map((f) => f.replace(/ ?#\d+$/, ''));
  assert.deepEqual(last.filter((f) => f.startsWith('out')),
    ['out join r~3', 'out join later', 'out publish r', 'out publish r', 'out publish r']);
  assert.ok(last.indexOf('in ack') < last.indexOf('out publish r'), last.join(', '));
});

test('a publication whose acknowledgement was lost with the connection rejects with code "disconnected"', async (t) => {
  const wsd = await startWsd({ t });
  const { client, socket } = testClient(t, wsd.url);
  const events = record(client, ['connected']);
  await client.join('r');
  const lost = client.publish('r', 'maybe');
  socket().drop(); // the frame was written, the answer cannot arrive on this socket
  await assert.rejects(lost, { code: 'disconnected', room: 'r' });
  await waitFor(() => events.of('connected').length === 2, { what: 'the reconnect' });
  const ack = await client.publish('r', 'surely');
  assert.ok(ack.offset >= 1);
});

test('presence asked when the connection drops is asked again on the next one', async (t) => {
  const wsd = await startWsd({ t });
  const { client, socket } = testClient(t, wsd.url, { user: 'ada' });
  await client.join('r');
  const asked = client.presence('r');
  socket().drop();
  assert.deepEqual((await asked).map((c) => c.user), ['ada']);
});

test('close rejects what is pending, stops reconnecting, and keeps the positions readable', async (t) => {
  let wsd = await startWsd({ t });
  const { client } = testClient(t, wsd.url, { backoff: { min: 10, max: 40 } });
  const events = record(client, ['connected', 'reconnecting']);
  const ack = await client.join('r');
  await wsd.kill();
  await waitFor(() => events.of('reconnecting').length >= 1, { what: 'a reconnect attempt' });
  const queued = client.publish('r', 'never sent');
  await client.close();
  await assert.rejects(queued, { code: 'closed' });
  await assert.rejects(client.publish('r', 'after close'), { code: 'closed' });
  await assert.rejects(client.join('other'), { code: 'closed' });
  assert.equal(client.state, 'closed');
  assert.deepEqual(client.position('r'), { offset: 0, epoch: ack.epoch });

  const attempts = events.of('reconnecting').length;
  wsd = await restart(t, wsd);
  await new Promise((r) => setTimeout(r, 500)); // > 10 backoff maxima: an attempt would have happened
  assert.equal(events.of('reconnecting').length, attempts);
  assert.equal(events.of('connected').length, 1);
});
