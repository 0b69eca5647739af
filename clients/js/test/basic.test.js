// Requests and their acknowledgements against a real wsd: join, publish, leave, presence, errors,
// authentication with a token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startWsd, waitFor } from './helpers/wsd.js';
import { testClient, messages, record, wire } from './helpers/client.js';
import { WsdError } from '../index.js';

test('join, publish and receive: acknowledgements carry positions, messages arrive in order', async (t) => {
  const wsd = await startWsd({ t });
  const a = testClient(t, wsd.url, { user: 'ada' }).client;
  const b = testClient(t, wsd.url, { user: 'bob' }).client;
  const inbox = messages();
  const ackA = await a.join('news', inbox.handler);
  assert.equal(ackA.room, 'news');
  assert.equal(ackA.offset, 0);
  assert.match(ackA.epoch, /.+/);
  const events = record(a, ['message']);
  await b.join('news');

  const first = await b.publish('news', { n: 1 });
  assert.deepEqual(first, { room: 'news', offset: 1, epoch: ackA.epoch, delivered: 2 });
  const acks = await Promise.all([2, 3, 4].map((n) => b.publish('news', { n })));
  assert.deepEqual(acks.map((x) => x.offset), [2, 3, 4]);

  await waitFor(() => inbox.got.length === 4, { what: 'four messages' });
  assert.deepEqual(inbox.got, [1, 2, 3, 4].map((n) => ({ offset: n, data: { n } })));
  assert.deepEqual(events.of('message').map((m) => [m.room, m.offset, m.epoch]),
    [1, 2, 3, 4].map((n) => ['news', n, ackA.epoch]));
  assert.deepEqual(a.position('news'), { offset: 4, epoch: ackA.epoch });
  assert.deepEqual(a.rooms(), ['news']);
  assert.equal(a.state, 'open');

  // data is any JSON value, null and strings included; joining again resolves with the last ack
  await b.publish('news', 'plain');
  await b.publish('news', null);
  await waitFor(() => inbox.got.length === 6, { what: 'two more messages' });
  assert.deepEqual(inbox.got.slice(4).map((m) => m.data), ['plain', null]);
  assert.deepEqual(await a.join('news'), ackA);
});

test('requests for a room wait for its join to be answered, then go in call order', async (t) => {
  const wsd = await startWsd({ t });
  const { client, frames } = testClient(t, wsd.url);
  await client.once('connected');
  const done = [client.join('a'), client.publish('a', 1), client.presence('a'), client.publish('a', 2)];
  await Promise.all(done);
  const w = wire(frames);
  assert.deepEqual(w.slice(0, 5), ['out join a#1', 'in ack #1', 'out publish a#2', 'out presence a#3', 'out publish a#4']);
});

test('refused requests reject their promise with the server error; the connection goes on', async (t) => {
  const wsd = await startWsd({ t, args: ['-pubsub.max-rooms', '2'] });
  const { client } = testClient(t, wsd.url);
  const errors = record(client, ['error']);

  await assert.rejects(client.publish('elsewhere', 1), (err) => {
    assert.ok(err instanceof WsdError);
    assert.equal(err.code, 'server');
    assert.equal(err.room, 'elsewhere');
    assert.equal(err.message, 'forbidden: not a member of room elsewhere');
    return true;
  });
  await assert.rejects(client.presence('elsewhere'), /forbidden: not a member of room elsewhere/);
  await assert.rejects(client.join('x'.repeat(201)), { code: 'server', message: 'room name too long' });
  assert.deepEqual(client.rooms(), []); // a refused join leaves no room behind

  await client.join('one');
  await client.join('two');
  await assert.rejects(client.join('three'), { message: 'too many rooms: leave one first' });
  assert.deepEqual(client.rooms(), ['one', 'two']);

  await assert.rejects(client.publish('one', 1n), TypeError); // not JSON: refused before sending
  await assert.rejects(client.join(''), TypeError);
  await assert.rejects(client.publish(undefined, 1), TypeError);
  await assert.rejects(client.presence(42), TypeError);

  const ack = await client.publish('one', 'still here');
  assert.equal(ack.offset, 1);
  assert.equal(errors.length, 0); // every error had its request
});

test('leave stops the room\'s messages and is acknowledged', async (t) => {
  const wsd = await startWsd({ t });
  const a = testClient(t, wsd.url).client;
  const b = testClient(t, wsd.url).client;
  const inA = messages();
  const inB = messages();
  await a.join('room', inA.handler);
  await b.join('room', inB.handler);
  await b.publish('room', 'before');
  await waitFor(() => inA.got.length === 1, { what: 'the first message' });

  assert.deepEqual(await a.leave('room'), { room: 'room' });
  assert.deepEqual(a.rooms(), []);
  assert.equal(a.position('room'), undefined);
  await b.publish('room', 'after');
  await waitFor(() => inB.got.length === 2, { what: 'the publisher\'s own copy' });
  const [, after] = await Promise.all([b.presence('room'), b.publish('room', 'later')]);
  await waitFor(() => inB.got.length === 3, { what: 'the third message' });
  assert.equal(after.delivered, 1); // a is not a member any more
  assert.deepEqual(inA.got.map((m) => m.data), ['before']);
  assert.deepEqual(await a.leave('room'), { room: 'room' }); // leaving again is a no-op
});

test('leave before the join was acknowledged rejects the join, and the room is not joined', async (t) => {
  const wsd = await startWsd({ t });
  const { client } = testClient(t, wsd.url);
  const joined = client.join('brief');
  const left = client.leave('brief');
  await assert.rejects(joined, { code: 'left', room: 'brief' });
  assert.deepEqual(await left, { room: 'brief' });
  await waitFor(async () => {
    const res = await fetch(`${wsd.http}/rooms/brief/presence`);
    return (await res.json()).clients.length === 0;
  }, { what: 'the room to be empty' });
  assert.deepEqual(client.rooms(), []);
});

test('presence lists who is in a room; presence events report joins and leaves', async (t) => {
  const wsd = await startWsd({ t, args: ['-pubsub.presence-events'] });
  const a = testClient(t, wsd.url, { user: 'ada' }).client;
  const b = testClient(t, wsd.url, { user: 'bob' }).client;
  const seen = [];
  await a.join('lobby', { onPresence: (ev) => seen.push(ev) });
  const events = record(a, ['presence']);
  await b.join('lobby');

  const clients = await a.presence('lobby');
  assert.deepEqual(clients.map((c) => c.user).sort(), ['ada', 'bob']);
  for (const c of clients) assert.match(c.conn, /.+/);
  const bob = clients.find((c) => c.user === 'bob');

  await waitFor(() => events.of('presence').length >= 1, { what: 'the join event' });
  assert.deepEqual(events.of('presence')[0], { room: 'lobby', event: 'join', client: bob });
  await b.leave('lobby');
  await waitFor(() => events.of('presence').length >= 2, { what: 'the leave event' });
  assert.deepEqual(events.of('presence')[1], { room: 'lobby', event: 'leave', client: bob });
  assert.deepEqual(seen.filter((ev) => ev.client.user === 'bob'), events.of('presence'));
  assert.deepEqual((await a.presence('lobby')).map((c) => c.user), ['ada']);
});

test('a token function is asked on every connect; the user is its sub and its rooms claim holds', async (t) => {
  const secret = 'test-secret-at-least-32-bytes-long!';
  const wsd = await startWsd({ t, args: ['-auth.jwt-secret', secret] });
  let issued = 0;
  const token = async () => {
    issued++;
    return jwt(secret, { sub: `ada-${issued}`, rooms: ['allowed'], exp: Math.floor(Date.now() / 1000) + 60 });
  };
  const { client, socket } = testClient(t, wsd.url, { token });
  const events = record(client, ['connected']);
  await client.join('allowed');
  assert.deepEqual((await client.presence('allowed')).map((c) => c.user), ['ada-1']);
  await assert.rejects(client.join('other'), { message: 'forbidden: the token does not allow room other' });

  socket().drop();
  await waitFor(() => events.of('connected').length === 2, { what: 'the reconnect' });
  assert.equal(issued, 2);
  assert.deepEqual(events.of('connected'), [{ reconnect: false }, { reconnect: true }]);
  await waitFor(async () => {
    const users = (await client.presence('allowed')).map((c) => c.user);
    return users.length === 1 && users[0] === 'ada-2';
  }, { what: 'the new token\'s user in presence' });
});

function jwt(secret, claims) {
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const body = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}
