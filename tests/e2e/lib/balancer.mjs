// Starts Debian's nginx as the WebSocket load balancer in front of server
// processes, for the end-to-end tests of several nodes.
//
// The configuration is packaging/nginx/collective.conf.template, the file the
// Compose stack and deploy/topology.sh use, with loopback upstreams. nginx
// runs in the foreground as a child of the test. Every path it writes (pid
// file, temporary folders) is in a fresh temporary folder, so it touches
// neither /etc/nginx nor /var/log/nginx and runs as root or as any user.
// The binary comes from NGINX_BIN, or from Debian's nginx package.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort, waitFor } from './server.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const nginxBinary = process.env.NGINX_BIN ?? '/usr/sbin/nginx';
export const templatePath = join(repoRoot, 'packaging/nginx/collective.conf.template');

// One failed connect marks a node down for 10 s; deploy/topology.sh and the
// Compose file write the same parameters.
const upstreamServerParameters = 'max_fails=1 fail_timeout=10s';

// Returns the template with its two placeholders replaced. Throws when the
// template has a placeholder that this function does not know.
export function renderTemplate(template, { listen, upstreamAddresses }) {
  const servers = upstreamAddresses
    .map((address) => `server ${address} ${upstreamServerParameters};`)
    .join(' ');
  const rendered = template
    .replaceAll('${COLLECTIVE_LISTEN}', listen)
    .replaceAll('${COLLECTIVE_UPSTREAM_SERVERS}', servers);
  const left = rendered.match(/\$\{COLLECTIVE_[A-Z_]*\}/);
  if (left) throw new Error(`${templatePath} has the placeholder ${left[0]}, which renderTemplate does not fill`);
  return rendered;
}

// Resolves once something accepts TCP connections on 127.0.0.1:port.
function portAccepts(port) {
  return new Promise((resolveAccepts) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolveAccepts(true); });
    socket.once('error', () => resolveAccepts(false));
  });
}

export class Balancer {
  // upstreamPorts: the loopback ports of the server processes to balance.
  constructor({ upstreamPorts }) {
    if (!Array.isArray(upstreamPorts) || upstreamPorts.length === 0
        || !upstreamPorts.every((port) => Number.isInteger(port) && port > 0 && port < 65536)) {
      throw new Error(`Balancer needs upstreamPorts, a non-empty array of TCP ports; got ${JSON.stringify(upstreamPorts)}`);
    }
    this.upstreamPorts = upstreamPorts;
    this.listenPort = null;
    this.dir = null;
    this.output = '';
    this.child = null;
  }

  get port() { return this.listenPort; }
  get url() { return `http://127.0.0.1:${this.listenPort}`; }
  // The same form as ServerProcess.socketUrl, for the phoenix client.
  get socketUrl() { return `ws://127.0.0.1:${this.listenPort}/socket`; }

  get running() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  // Writes the configuration, starts nginx and resolves once its port accepts
  // connections. Rejects with nginx's output when it exits or does not listen
  // within 10 s.
  async start() {
    if (!existsSync(nginxBinary)) {
      throw new Error(`nginx not found at ${nginxBinary}; install Debian's nginx (./deploy.sh test does) or set NGINX_BIN`);
    }
    this.listenPort = await freePort();
    this.dir = mkdtempSync(join(tmpdir(), 'collective-e2e-nginx-'));
    this.writeConfig();

    this.output = '';
    // -e stderr: without it nginx opens its built-in error log path,
    // /var/log/nginx/error.log, before it reads the configuration.
    this.child = spawn(nginxBinary, ['-e', 'stderr', '-p', this.dir, '-c', join(this.dir, 'nginx.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolveExit) => this.child.once('exit', (code, signal) => resolveExit({ code, signal })));
    this.child.stdout.on('data', (data) => { this.output += data; });
    this.child.stderr.on('data', (data) => { this.output += data; });

    const child = this.child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited at start:\n${this.output}`);
      return portAccepts(this.listenPort);
    }, { timeoutMs: 10000, intervalMs: 50, what: `nginx to listen on port ${this.listenPort}` });
    return this;
  }

  writeConfig() {
    const dir = this.dir;
    const upstreamAddresses = this.upstreamPorts.map((port) => `127.0.0.1:${port}`);
    const http = renderTemplate(readFileSync(templatePath, 'utf8'), {
      listen: `127.0.0.1:${this.listenPort}`,
      upstreamAddresses,
    });
    writeFileSync(join(dir, 'collective.conf'), http);
    // One worker process, so that least_conn's choices follow the order of a test's connections.
    writeFileSync(join(dir, 'nginx.conf'), [
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr crit;',
      'events { worker_connections 4096; }',
      'http {',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${join(dir, `${kind}_temp`)};`),
      `    include ${join(dir, 'collective.conf')};`,
      '}',
      '',
    ].join('\n'));
  }

  // Stops nginx (SIGTERM, its fast shutdown, then SIGKILL after 10 s), removes
  // its folder and resolves with its exit status.
  async stop() {
    let status = { code: null, signal: null };
    if (this.child) {
      if (this.running) {
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 10000);
        status = await this.exited;
        clearTimeout(timer);
      } else {
        status = await this.exited;
      }
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
    return status;
  }
}

export async function startBalancer(options) {
  return new Balancer(options).start();
}
