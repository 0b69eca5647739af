// A two-node cluster: two wsd nodes on one nats-server with JetStream (skipped when no nats-server
// binary is found, unless WSD_REQUIRE_NATS=1; `make test` installs Debian's). A client on node A
// receives what is published on node B, and a client that drops from node A recovers, on node B,
// what was published meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { startWsd, startNats, natsServerBinary, publishHTTP, waitFor } from './helpers/wsd.js';
import { testClient, messages, record, gate, sequenceProblems } from './helpers/client.js';

const natsBin = natsServerBinary();
const requireNats = process.env.WSD_REQUIRE_NATS === '1';
// without nats-server: skip, or fail when WSD_REQUIRE_NATS=1 (like WSD_REQUIRE_CHROMIUM)
const noNats = natsBin || requireNats ? false : 'no nats-server on PATH or in /usr/sbin (apt-get install nats-server)';

async function cluster(t) {
  if (!natsBin) assert.fail('WSD_REQUIRE_NATS=1 but no nats-server on PATH or in /usr/sbin');
  const nats = await startNats({ t, bin: natsBin });
  const args = ['-nats', nats.url, '-history.size', '5000'];
  const a = await startWsd({ t, args: [...args, '-node-id', 'a'] });
  const b = await startWsd({ t, args: [...args, '-node-id', 'b'] });
  return { a, b };
}

test('cluster: publications on node B reach a client on node A, in order', { skip: noNats }, async (t) => {
  const { a, b } = await cluster(t);
  const { client } = testClient(t, a.url);
  const inbox = messages();
  await client.join('across', inbox.handler);
  // node A's interest in the room reaches node B asynchronously: probe until a publication arrives
  await waitFor(async () => {
    await publishHTTP(b, 'across', { probe: true });
    return inbox.got.length > 0;
  }, { interval: 50, what: 'a first publication across the nodes' });
  const first = inbox.got.length;
  for (let i = 0; i < 100; i++) await publishHTTP(b, 'across', { i });
  await waitFor(() => inbox.got.filter((m) => !m.data.probe).length === 100, { what: '100 publications from node B' });
  const got = inbox.got.slice(first).filter((m) => !m.data.probe);
  assert.deepEqual(got.map((m) => m.data.i), [...Array(100).keys()]);
  const offsets = inbox.got.map((m) => m.offset);
  assert.deepEqual(offsets, offsets.map((_, i) => offsets[0] + i)); // contiguous: nothing skipped or doubled
});

test('cluster: a client that drops from node A recovers on node B what node B published meanwhile', {
  skip: noNats,
}, async (t) => {
  const { a, b } = await cluster(t);
  const g = gate(a.url);
  const { client, socket } = testClient(t, g.url);
  const events = record(client, ['connected', 'disconnected', 'recovered', 'recoveryFailed']);
  const inbox = messages();
  await client.join('roam', inbox.handler);
  for (let i = 0; i < 10; i++) await publishHTTP(a, 'roam', { i });
  await waitFor(() => inbox.got.length === 10, { what: 'ten publications on node A' });
  const before = client.position('roam');

  g.shut();
  socket().drop();
  await waitFor(() => events.of('disconnected').length === 1, { what: 'the drop' });
  for (let i = 10; i < 1010; i++) await publishHTTP(b, 'roam', { i });
  let connectedAt = 0;
  client.on('connected', () => { connectedAt = performance.now(); });
  const outcome = Promise.race([client.once('recovered'), client.once('recoveryFailed')]);
  g.open(b.url); // the client comes back on node B
  const ev = await outcome;
  const took = performance.now() - connectedAt;

  assert.deepEqual(ev, { room: 'roam', missed: 1000, cause: 'reconnect', position: { offset: before.offset + 1000, epoch: before.epoch } });
  t.diagnostic(`cross-node recovery of 1000 missed publications: ${took.toFixed(1)} ms from the reconnect to the recovered event`);
  assert.deepEqual(sequenceProblems(inbox.got, 1, 1010), []);
  assert.deepEqual(inbox.got.map((m) => m.data.i), [...Array(1010).keys()]);
  assert.equal(events.of('recoveryFailed').length, 0);
});
