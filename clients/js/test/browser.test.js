// The client in headless Chromium, on the browser's WebSocket: a page imports index.js as an ES
// module, joins, publishes, then closes its socket under the client (a network drop as the page
// sees it); the test publishes 100 messages while the client is kept away, and the page must
// receive all of them after its reconnect, with a recovered event. Skipped when /usr/bin/chromium
// is missing, unless WSD_REQUIRE_CHROMIUM=1 (`make test` installs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { startWsd, publishHTTP, track, kill, tempDir } from './helpers/wsd.js';

const chromium = '/usr/bin/chromium';
const missing = existsSync(chromium) ? false : `${chromium} is missing: apt-get install chromium (or run make test)`;

const page = (wsdURL) => `<!doctype html><meta charset="utf-8"><title>client</title>
<script type="module">
import { connect } from './index.js';
const post = (path, v) => fetch(path, { method: 'POST', body: JSON.stringify(v) });
try {
  const sockets = [];
  class Tracked extends WebSocket {
    constructor(...a) { super(...a); sockets.push(this); }
  }
  let away = false;
  const url = async () => {
    if (away) await fetch('/proceed');
    return ${JSON.stringify(wsdURL)};
  };
  const client = connect(url, { WebSocket: Tracked, user: 'chromium', backoff: { min: 20, max: 200 } });
  for (const e of ['connected', 'disconnected', 'reconnecting', 'recovered', 'recoveryFailed', 'error']) {
    client.on(e, (ev) => post('/log', [e, ev instanceof Error ? ev.message : ev]));
  }
  const got = [];
  const joined = await client.join('browser', (data, msg) => got.push([msg.offset, data]));
  const published = await client.publish('browser', { from: 'page' });
  while (got.length < 1) await new Promise((r) => setTimeout(r, 10));
  const outcome = Promise.race([client.once('recovered'), client.once('recoveryFailed')]);
  away = true;
  sockets.at(-1).close(); // the socket goes away under the client
  await post('/away', { joined, published });
  const rec = await outcome;
  while (rec.missed && got.length < 101) await new Promise((r) => setTimeout(r, 10));
  await post('/result', { rec, got, sockets: sockets.length, position: client.position('browser') });
  await client.close();
} catch (err) {
  await post('/result', { error: String(err && err.stack || err) });
}
</script>`;

test('the client works in Chromium: acknowledgements, reconnect, recovery', {
  skip: process.env.WSD_REQUIRE_CHROMIUM === '1' ? false : missing,
}, async (t) => {
  if (missing) assert.fail(`WSD_REQUIRE_CHROMIUM=1 but ${missing}`);
  const wsd = await startWsd({ t, args: ['-allowed-origins', 'http://127.0.0.1:*', '-history.size', '1000'] });
  const source = readFileSync(new URL('../index.js', import.meta.url));
  let release;
  const proceed = new Promise((r) => { release = r; });
  let done;
  const result = new Promise((r) => { done = r; });
  let away;
  const pageEvents = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    if (req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end(page(wsd.url));
    } else if (req.url === '/index.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(source);
    } else if (req.url === '/away') {
      away = JSON.parse(body);
      res.end();
      for (let i = 0; i < 100; i++) await publishHTTP(wsd, 'browser', { i });
      release();
    } else if (req.url === '/log') {
      pageEvents.push(body);
      res.end();
    } else if (req.url === '/proceed') {
      await proceed;
      res.end();
    } else if (req.url === '/result') {
      res.end();
      done(JSON.parse(body));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const profile = tempDir('wsd-js-chromium-');
  const browser = track(spawn(chromium, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
    `--user-data-dir=${profile}`, `http://127.0.0.1:${server.address().port}/`], { stdio: 'ignore', detached: true }), { group: true });
  t.after(async () => {
    const exited = new Promise((r) => (browser.exitCode !== null ? r() : browser.on('exit', r)));
    kill(browser);
    await exited;
  });

  const out = await Promise.race([result, new Promise((_, reject) => {
    setTimeout(() => reject(new Error(`no result from the page; its events: ${pageEvents.join(' ')}`)), 60000).unref();
  })]);
  t.diagnostic(`page events: ${pageEvents.join(' ')}`);
  assert.equal(out.error, undefined, out.error);
  assert.equal(away.joined.offset, 0);
  assert.deepEqual(away.published, { room: 'browser', offset: 1, epoch: away.joined.epoch, delivered: 1 });
  assert.deepEqual(out.rec, { room: 'browser', missed: 100, cause: 'reconnect', position: { offset: 101, epoch: away.joined.epoch } });
  assert.deepEqual(out.got, [[1, { from: 'page' }], ...Array.from({ length: 100 }, (_, i) => [i + 2, { i }])]);
  assert.equal(out.sockets, 2);
  assert.deepEqual(out.position, { offset: 101, epoch: away.joined.epoch });
});
