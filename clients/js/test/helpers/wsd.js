// Test helpers: build and run a real wsd (and nats-server), publish over its HTTP API, wait for
// conditions. wsd is the binary named by $WSD_BIN, or built once per test file from the repository
// this package lives in (go build ./cmd/wsd).
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, accessSync, constants } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname, delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const API_KEY = 'test-api-key';

// Every process a test starts is killed, and every temporary directory removed, when the test process
// ends, also when the test runner ends it with a signal (a file over its timeout): no wsd,
// nats-server or browser outlives the tests.
const children = new Set();
const dirs = new Set();
const groups = new WeakSet();
const cleanUp = () => {
  for (const c of children) kill(c);
  for (const d of dirs) {
    try {
      rmSync(d, { recursive: true, force: true, maxRetries: 10 });
    } catch {
      // best effort: a process that escaped its group may still write there
    }
  }
};
process.on('exit', cleanUp);
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(sig, () => {
    cleanUp();
    process.kill(process.pid, sig); // the default action, now that the handler is gone
  });
}

/**
 * tempDir makes a temporary directory, removed when the test process ends (a browser's helper
 * processes may still be writing into it when the test's own cleanup runs).
 */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/**
 * track kills proc when the test process ends (whatever the test did). With group, proc was spawned
 * with detached: true (it leads a process group) and its whole group is killed (a browser's helpers).
 */
export function track(proc, { group = false } = {}) {
  children.add(proc);
  if (group) groups.add(proc);
  proc.on('exit', () => children.delete(proc));
  return proc;
}

/** kill sends SIGKILL to a tracked process (to its group when tracked with group). */
export function kill(proc) {
  try {
    if (groups.has(proc)) process.kill(-proc.pid, 'SIGKILL');
    else proc.kill('SIGKILL');
  } catch {
    // gone already
  }
}

let built;

/** wsdBinary is $WSD_BIN, or a wsd built from the repository (once per process). */
export function wsdBinary() {
  if (process.env.WSD_BIN) return Promise.resolve(process.env.WSD_BIN);
  built ??= (async () => {
    const root = repoRoot();
    const dir = tempDir('wsd-js-');
    const bin = join(dir, 'wsd');
    await promisify(execFile)('go', ['build', '-o', bin, './cmd/wsd'], { cwd: root, maxBuffer: 1 << 24 });
    return bin;
  })();
  return built;
}

function repoRoot() {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'go.mod'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('no go.mod above clients/js: set WSD_BIN to a wsd binary');
    dir = up;
  }
  return dir;
}

/**
 * startWsd runs wsd on 127.0.0.1 (port 0 unless addr says otherwise) with JSON logs and the API key,
 * and resolves once it logged "wsd listening". args are more flags. The server is killed when the
 * test ends (t.after) if t is given.
 */
export async function startWsd({ t, args = [], env = {}, addr = '127.0.0.1:0' } = {}) {
  const bin = await wsdBinary();
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSD_')));
  const proc = spawn(bin, ['-addr', addr, '-log.format', 'json', ...args], {
    env: { ...clean, WSD_API_KEY: API_KEY, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  track(proc);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const logs = [];
  const ready = new Promise((resolve, reject) => {
    let rest = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop();
      for (const line of lines) {
        let rec;
        try {
          rec = JSON.parse(line);
        } catch {
          rec = { msg: line };
        }
        logs.push(rec);
        if (rec.msg === 'wsd listening') resolve(rec);
      }
    });
    exited.then(({ code, signal }) => reject(new Error(
      `wsd exited (${code ?? signal}) before listening:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`)));
  });
  const rec = await ready;
  const server = {
    proc,
    logs,
    addr: rec.addr,
    port: Number(rec.addr.split(':').pop()),
    url: `ws://${rec.addr}/ws`,
    http: `http://${rec.addr}`,
    exited,
    /** kill ends the process at once (SIGKILL: no drain, no close frames). */
    kill: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
    /** stop drains it (SIGTERM) and waits for the exit. */
    stop: async () => {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(timer);
    },
  };
  t?.after(() => server.kill());
  return server;
}

// Node's fetch sends a POST's body in a second small write, which waits for the ACK of the first
// (Nagle against delayed ACKs): ~10 ms a request here. node:http writes both at once.
const agent = new Agent({ keepAlive: true });

/** publishHTTP publishes body (a JSON value) with POST /rooms/:room/publish and returns the answer. */
export function publishHTTP(server, room, body) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.http}/rooms/${encodeURIComponent(room)}/publish`, {
      method: 'POST',
      agent,
      headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`publish: HTTP ${res.statusCode}: ${text}`));
        else resolve(JSON.parse(text));
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** metric reads one unlabelled sample of wsd's /metrics (undefined when absent). */
export async function metric(server, name) {
  const text = await (await fetch(`${server.http}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

/** waitFor polls cond until it returns a truthy value (resolved with it) or fails after timeout ms. */
export async function waitFor(cond, { timeout = 20000, interval = 10, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** freePort returns a port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** natsServerBinary is the nats-server on PATH (or Debian's /usr/sbin/nats-server), or null. */
export function natsServerBinary() {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/bin'];
  for (const d of dirs) {
    const p = join(d, 'nats-server');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** startNats runs nats-server with JetStream on 127.0.0.1 and resolves once it accepts connections. */
export async function startNats({ t, bin }) {
  const port = await freePort();
  const dir = tempDir('wsd-js-nats-');
  const proc = spawn(bin, ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  track(proc);
  let log = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (c) => { log += c; });
  const exited = new Promise((resolve) => proc.on('exit', () => resolve()));
  let dead = false;
  exited.then(() => { dead = true; });
  t?.after(async () => {
    proc.kill('SIGKILL');
    await exited;
  });
  await waitFor(async () => {
    if (dead) throw new Error(`nats-server exited:\n${log}`);
    return canConnect(port);
  }, { what: 'nats-server to listen' });
  return { url: `nats://127.0.0.1:${port}`, proc, log: () => log };
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
