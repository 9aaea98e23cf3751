// Starts, stops, pauses and queries a real redis-server for the end-to-end
// tests of several server nodes that share one Redis.
//
// Each RedisProcess listens on a free loopback port with its own temporary
// directory. The append-only file is synced on every write and RDB snapshots
// are off, so a SIGTERM followed by start() on the same port and directory
// brings back every key. The binaries come from REDIS_SERVER_BIN and
// REDIS_CLI_BIN, or from Debian's redis-server package.

import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort, waitFor } from './server.mjs';

export const redisServerBinary = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';
export const redisCliBinary = process.env.REDIS_CLI_BIN ?? '/usr/bin/redis-cli';

// redis-cli gives up after this long, so a paused Redis cannot hang a test.
const cliTimeoutMs = 2000;

export class RedisProcess {
  // `extraArgs` are appended to the redis-server command line, so they override
  // the defaults below, because Redis keeps the last value of a single-value
  // option that is given twice.
  constructor({ port, extraArgs = [] } = {}) {
    this.port = port;
    this.extraArgs = extraArgs;
    this.dir = mkdtempSync(join(tmpdir(), 'collective-e2e-redis-'));
    this.output = '';
    this.child = null;
    this.paused = false;
  }

  get url() { return `redis://127.0.0.1:${this.port}`; }

  get running() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  // Starts redis-server, on the same port and directory as before when it ran
  // already, and resolves once PING returns PONG (after the data is loaded).
  async start() {
    if (!existsSync(redisServerBinary)) {
      throw new Error(`redis-server not found at ${redisServerBinary}; install Debian's redis-server or set REDIS_SERVER_BIN`);
    }
    if (!this.port) this.port = await freePort();

    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--dir', this.dir,
      '--appendonly', 'yes',
      '--appendfsync', 'always',
      '--save', '',
      '--daemonize', 'no',
      '--logfile', '',
      ...this.extraArgs,
    ];
    this.output += `--- redis-server started at ${new Date().toISOString()}\n`;
    this.child = spawn(redisServerBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.paused = false;
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.child.stdout.on('data', (data) => { this.output += data; });
    this.child.stderr.on('data', (data) => { this.output += data; });

    const child = this.child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited at start:\n${this.output}`);
      try {
        return (await this.cli('PING')) === 'PONG';
      } catch {
        return false;
      }
    }, { timeoutMs: 10000, intervalMs: 50, what: `redis-server to answer PING on port ${this.port}` });
    return this;
  }

  // Stops redis-server with `signal` and resolves with its exit status. A
  // SIGTERM makes Redis sync the append-only file before it exits.
  async stop(signal = 'SIGTERM') {
    if (!this.running) return this.exited;
    if (this.paused) this.resume();
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10000);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }

  // Freezes the process with SIGSTOP. Its sockets stay open, but it replies to
  // nothing until resume().
  pause() {
    this.child.kill('SIGSTOP');
    this.paused = true;
  }

  resume() {
    this.child.kill('SIGCONT');
    this.paused = false;
  }

  // Runs `redis-cli -h 127.0.0.1 -p PORT ...args` and resolves with its trimmed output.
  // Rejects when redis-cli fails or takes longer than two seconds.
  cli(...args) {
    return new Promise((resolve, reject) => {
      execFile(
        redisCliBinary,
        ['-h', '127.0.0.1', '-p', String(this.port), ...args],
        { timeout: cliTimeoutMs },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`redis-cli ${args.join(' ')} failed: ${error.message} ${stderr}`.trim()));
          else resolve(stdout.trim());
        },
      );
    });
  }

  // Resolves with the integer stored at `key`, or null when the key is missing.
  async getInteger(key) {
    const text = await this.cli('GET', key);
    if (text === '') return null;
    const value = Number(text);
    if (!Number.isInteger(value)) throw new Error(`GET ${key} returned ${JSON.stringify(text)}, not an integer`);
    return value;
  }

  // Resolves with the members of the set at `key`, sorted.
  async members(key) {
    const text = await this.cli('SMEMBERS', key);
    return text === '' ? [] : text.split('\n').sort();
  }

  async dispose() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startRedis(options) {
  return new RedisProcess(options).start();
}
