// The client on the platform's own WebSocket (no options.WebSocket): globalThis.WebSocket on
// Node >= 22, Node 20's behind --experimental-websocket (then in a child process with the flag).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startWsd } from './helpers/wsd.js';
import { scenario } from './fixtures/platform.js';
import { connect } from '../index.js';

const flag = '--experimental-websocket';
const builtin = typeof globalThis.WebSocket === 'function';
const flagged = !builtin && process.allowedNodeEnvironmentFlags.has(flag);

test('the client works on the platform\'s WebSocket', {
  skip: builtin || flagged ? false : `this Node has no WebSocket, not even with ${flag}`,
}, async (t) => {
  const wsd = await startWsd({ t });
  let out;
  if (builtin) {
    out = await scenario(wsd.url);
  } else {
    const script = fileURLToPath(new URL('./fixtures/platform.js', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [flag, '--no-warnings', script, wsd.url], { timeout: 30000 });
    out = JSON.parse(stdout);
  }
  assert.equal(out.ack.room, 'platform');
  assert.deepEqual(out.published, { room: 'platform', offset: 1, epoch: out.ack.epoch, delivered: 1 });
  assert.deepEqual(out.clients.map((c) => c.user), ['platform']);
  assert.deepEqual(out.got, [[1, { hello: 'world' }]]);
  assert.equal(out.state, 'closed');
});

test('without a WebSocket, connect says what to do', { skip: builtin ? 'this Node has a global WebSocket' : false }, () => {
  assert.throws(() => connect('ws://127.0.0.1:1/ws'), /no WebSocket: pass options.WebSocket/);
});

test('a URL that is not a WebSocket URL is refused at once', () => {
  class Never {}
  assert.throws(() => connect('ftp://example.com/ws', { WebSocket: Never }), /not a WebSocket URL/);
  assert.throws(() => connect(42, { WebSocket: Never }), /url must be a string or a function/);
});
