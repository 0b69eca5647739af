// The client-side rate limit: wsd drops requests over its rate limit (with an "error" without id, at
// most once a second), so their promises can only time out; a client paced under the limit gets
// every request through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWsd, waitFor } from './helpers/wsd.js';
import { testClient, record } from './helpers/client.js';

const LIMIT = ['-rate-limit.messages', '40', '-rate-limit.burst', '10'];

test('without pacing, requests over wsd\'s rate limit are dropped: they time out, an error event says why', async (t) => {
  const wsd = await startWsd({ t, args: LIMIT });
  const { client } = testClient(t, wsd.url, { timeout: 2000 });
  const errors = record(client, ['error']);
  await client.join('fast');
  const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => client.publish('fast', i)));
  const rejected = results.filter((r) => r.status === 'rejected');
  assert.ok(rejected.length > 0, 'some publications were dropped');
  for (const r of rejected) assert.equal(r.reason.code, 'timeout');
  assert.ok(errors.of('error').some((e) => e.code === 'rate_limited' && e.message === 'rate limited'));
});

test('with rateLimit under wsd\'s, every request goes through, in order', async (t) => {
  const wsd = await startWsd({ t, args: LIMIT });
  const { client } = testClient(t, wsd.url, { timeout: 5000, rateLimit: { messages: 30, burst: 8 } });
  const errors = record(client, ['error']);
  const got = [];
  await client.join('paced', (data) => got.push(data));
  const acks = await Promise.all(Array.from({ length: 30 }, (_, i) => client.publish('paced', i)));
  assert.deepEqual(acks.map((a) => a.offset), Array.from({ length: 30 }, (_, i) => i + 1));
  assert.equal(errors.length, 0);
  await waitFor(() => got.length === 30, { what: 'the 30 messages' });
  assert.deepEqual(got, Array.from({ length: 30 }, (_, i) => i));
});
