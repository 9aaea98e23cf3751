// Starts and stops real collective-server processes for the end-to-end tests.
//
// Each server gets a free loopback port and a fresh data directory, so tests
// never share state. The binary comes from COLLECTIVE_SERVER_BIN, or from the
// default CMake preset's build folder.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const serverBinary =
  process.env.COLLECTIVE_SERVER_BIN ?? join(repoRoot, 'build/dev/server/collective-server');

// Ask the kernel for a free loopback port by binding port 0 and releasing it.
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll until `check` returns a truthy value or the deadline passes.
export async function waitFor(check, { timeoutMs = 5000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last value: ${JSON.stringify(last)})`);
}

export async function getJson(baseUrl, path) {
  const response = await fetch(baseUrl + path);
  return { status: response.status, body: await response.json() };
}

// A running server process. `env` adds or overrides environment variables;
// `dataDir` reuses a data directory (to test restarts); `openFileLimit`
// starts it under `ulimit -n` with that many descriptors.
export class ServerProcess {
  constructor({ port, env = {}, dataDir, openFileLimit } = {}) {
    this.port = port;
    this.env = env;
    this.openFileLimit = openFileLimit;
    this.ownsDataDir = !dataDir;
    this.dataDir = dataDir ?? mkdtempSync(join(tmpdir(), 'collective-e2e-'));
    this.output = '';
    this.child = null;
  }

  get httpUrl() { return `http://127.0.0.1:${this.port}`; }
  get socketUrl() { return `ws://127.0.0.1:${this.port}/socket`; }

  async start() {
    if (!this.port) this.port = await freePort();
    this.output = '';
    const [command, args] = this.openFileLimit
      ? ['bash', ['-c', `ulimit -n ${Number(this.openFileLimit)} && exec "$0"`, serverBinary]]
      : [serverBinary, []];
    this.child = spawn(command, args, {
      env: {
        ...process.env,
        PORT: String(this.port),
        COLLECTIVE_BIND: '127.0.0.1',
        COLLECTIVE_DATA_DIR: this.dataDir,
        COLLECTIVE_ENV: 'dev',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })));
    this.child.stdout.on('data', (d) => { this.output += d; });
    this.child.stderr.on('data', (d) => { this.output += d; });

    await waitFor(async () => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`server exited at start (${this.child.exitCode ?? this.child.signalCode}):\n${this.output}`);
      }
      try {
        return (await fetch(this.httpUrl + '/health/live')).status === 200;
      } catch {
        return false;
      }
    }, { timeoutMs: 10000, what: 'the server to answer /health/live' });
    return this;
  }

  // Stop with SIGTERM (graceful) or another signal; resolves with the exit status.
  async stop(signal = 'SIGTERM') {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10000);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }

  async dispose() {
    await this.stop();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  state() { return getJson(this.httpUrl, '/metrics/state'); }
}

export async function startServer(options) {
  return new ServerProcess(options).start();
}
