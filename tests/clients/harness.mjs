// Starts build/fake-gemini and build/ringgate (pointed at it) on loopback ports picked by the
// kernel, for the client tests. Only the processes started here are ever signalled.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const buildDir = path.resolve(here, '../../build');

export const RINGGATE_BINARY = process.env.RINGGATE_BINARY || path.join(buildDir, 'ringgate');
export const FAKE_GEMINI_BINARY =
  process.env.FAKE_GEMINI_BINARY || path.join(buildDir, 'fake-gemini');

export const PASSWORD = 'secret';
// Looks like a Google key (AIzaSy + 33 characters); the fake accepts any key by default.
export const GEMINI_KEY = 'AIzaSy' + 'RinggateClientTestsKey0123456789a';
if (GEMINI_KEY.length !== 39) throw new Error('GEMINI_KEY must be 39 characters');

const START_TIMEOUT_MS = 10_000;

// A minimal environment: nothing from the caller's ringgate or proxy settings leaks in.
function baseEnv() {
  const env = {};
  for (const name of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR']) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  return env;
}

// Spawns `binary` and resolves with { proc, url, stderr() } once it prints
// `listening on http://HOST:PORT` on stdout.
function startServer(name, binary, args, env) {
  return new Promise((resolve, reject) => {
    const proc = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
    });
    const server = { name, proc, url: null, stderr: () => stderr, exited: null };
    server.exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      proc.kill('SIGKILL');
      reject(new Error(`${name} did not print its listening line in ${START_TIMEOUT_MS} ms; stderr:\n${stderr}`));
    }, START_TIMEOUT_MS);
    proc.once('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`cannot start ${name} (${binary}): ${err.message}`));
    });
    proc.once('exit', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}, signal ${signal}) before listening; stderr:\n${stderr}`));
    });
    const lines = createInterface({ input: proc.stdout });
    lines.on('line', (line) => {
      const m = /^listening on (http:\/\/\S+:\d+)\s*$/.exec(line);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        server.url = m[1];
        resolve(server);
      }
    });
  });
}

async function stopServer(server) {
  if (!server || server.proc.exitCode !== null || server.proc.signalCode !== null) return;
  server.proc.kill('SIGTERM');
  let timer;
  const timeout = new Promise((res) => {
    timer = setTimeout(() => res('timeout'), 5000);
  });
  const result = await Promise.race([server.exited, timeout]);
  clearTimeout(timer);
  if (result === 'timeout') {
    server.proc.kill('SIGKILL');
    await server.exited;
  }
}

// A running fake-gemini + ringgate pair.
// options.fakeStreaming: FAKE_STREAMING for ringgate (false: real upstream streaming).
// options.env: more ringgate environment.
export async function startStack({ fakeStreaming = false, env = {} } = {}) {
  const stack = { fake: null, ringgate: null };
  try {
    stack.fake = await startServer('fake-gemini', FAKE_GEMINI_BINARY,
      ['--listen', '127.0.0.1:0', '--record', '100'], baseEnv());
    stack.ringgate = await startServer('ringgate', RINGGATE_BINARY, [], {
      ...baseEnv(),
      LISTEN: '127.0.0.1:0',
      THREADS: '2',
      GEMINI_BASE_URL: stack.fake.url,
      GEMINI_API_KEYS: GEMINI_KEY,
      PASSWORD,
      FAKE_STREAMING: String(fakeStreaming),
      LOG_LEVEL: 'warning',
      // Every test talks from 127.0.0.1: HAJIMI's per-IP limits (30 a minute) would refuse it.
      MAX_REQUESTS_PER_MINUTE: '1000000000',
      MAX_REQUESTS_PER_DAY_PER_IP: '1000000000',
      // Tests send identical requests at once and count the upstream calls: no coalescing.
      PUBLIC_MODE: 'true',
      ...env,
    });
  } catch (err) {
    await stopServer(stack.ringgate);
    await stopServer(stack.fake);
    throw err;
  }
  stack.baseURL = stack.ringgate.url + '/v1';
  stack.fakeURL = stack.fake.url;
  stack.stop = async () => {
    await stopServer(stack.ringgate);
    await stopServer(stack.fake);
  };
  stack.logs = () =>
    `--- ringgate stderr ---\n${stack.ringgate.stderr()}\n--- fake-gemini stderr ---\n${stack.fake.stderr()}`;

  // The model list comes from the upstream after start: wait until it is there.
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = '';
  for (;;) {
    try {
      const res = await fetch(stack.baseURL + '/models', {
        headers: { authorization: `Bearer ${PASSWORD}` },
      });
      last = `${res.status} ${await res.text()}`;
      if (res.ok && JSON.parse(last.slice(4)).data?.length > 0) break;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) {
      await stack.stop();
      throw new Error(`ringgate never listed models; last answer: ${last}\n${stack.logs()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  stack.fakeCall = async (method, p, body) => {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      init.headers['content-type'] = 'application/json';
    }
    const res = await fetch(stack.fakeURL + p, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`fake-gemini ${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  // The default script of the fake: an object ({text: '...', events: 4}) or 'k=v;k=v'.
  stack.setScript = (script) => stack.fakeCall('POST', '/_fake/script', script);
  stack.resetFake = () => stack.fakeCall('POST', '/_fake/reset');
  stack.setKeys = (keys) => stack.fakeCall('POST', '/_fake/keys', keys);
  // The API requests the fake received (control requests are not recorded), bodies parsed.
  stack.requests = async () => {
    const { requests } = await stack.fakeCall('GET', '/_fake/requests');
    return requests.map((r) => {
      let json = null;
      try {
        json = r.body ? JSON.parse(r.body) : null;
      } catch {
        /* not JSON */
      }
      return { ...r, json };
    });
  };
  // The generate requests (generateContent / streamGenerateContent) the fake received.
  stack.generateRequests = async () =>
    (await stack.requests()).filter((r) => /generateContent|streamGenerateContent/.test(r.api_method ?? r.path));
  return stack;
}

// All parts of all contents of a Gemini request body.
export function partsOf(body) {
  return (body?.contents ?? []).flatMap((c) => (c.parts ?? []).map((p) => ({ role: c.role, ...p })));
}
