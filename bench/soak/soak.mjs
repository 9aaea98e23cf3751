// Soak profile: witnesses churning against one server for a long time,
// sampling the server's memory and open files, to show that neither grows
// with the number of witnesses that came and went.
//
//   node soak.mjs [--seconds 3600] [--witnesses 300] [--server PATH] [--out soak.csv]
//
// The server is started here on a free loopback port with a fresh data
// directory. Each witness stays joined for a random 1 to 20 s, then leaves,
// and a new one takes its place, from source addresses 127.0.1.1 to
// 127.0.1.8. Every 10 s one CSV row is written: elapsed seconds, server RSS
// in KiB, open descriptors, witnesses joined now, joins so far, unexpected
// closes so far.

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(resolve(here, '../../tests/e2e/package.json'));
const WebSocket = require('ws');

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? process.argv[index + 1] : fallback;
}

const seconds = Number(option('seconds', 3600));
const witnessTarget = Number(option('witnesses', 300));
const serverPath = option('server', resolve(here, '../../build/dev/server/collective-server'));
const outPath = option('out', 'soak.csv');
const sourceAddresses = Array.from({ length: 8 }, (_, i) => `127.0.1.${i + 1}`);

const freePort = () => new Promise((done) => {
  const probe = createServer();
  probe.listen(0, '127.0.0.1', () => { const { port } = probe.address(); probe.close(() => done(port)); });
});

const port = await freePort();
const dataDir = mkdtempSync(join(tmpdir(), 'collective-soak-'));
const server = spawn(serverPath, [], {
  env: { ...process.env, PORT: String(port), COLLECTIVE_BIND: '127.0.0.1', COLLECTIVE_DATA_DIR: dataDir,
         COLLECTIVE_TICK_INTERVAL_MS: '1000' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
await new Promise((r) => setTimeout(r, 500));

let joined = 0;
let joins = 0;
let unexpectedCloses = 0;
let stopping = false;

function startWitness(index) {
  if (stopping) return;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket/websocket?vsn=2.0.0`,
    { localAddress: sourceAddresses[index % sourceAddresses.length] });
  let leaving = false;
  ws.on('open', () => {
    ws.send(JSON.stringify(['1', '1', 'collective:lobby', 'phx_join', {}]));
    joined += 1;
    joins += 1;
    setTimeout(() => { leaving = true; ws.close(); }, 1000 + Math.random() * 19000);
  });
  ws.on('close', () => {
    if (ws.readyState !== WebSocket.CONNECTING) joined = Math.max(0, joined - 1);
    if (!leaving && !stopping) unexpectedCloses += 1;
    setTimeout(() => startWitness(index), 50);
  });
  ws.on('error', () => {});
}

function sample(elapsed) {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  const openFiles = readdirSync(`/proc/${server.pid}/fd`).length;
  return { elapsed, rssKiB, openFiles, joined, joins, unexpectedCloses };
}

writeFileSync(outPath, 'elapsed_s,rss_kib,open_files,joined,joins,unexpected_closes\n');
for (let i = 0; i < witnessTarget; i++) setTimeout(() => startWitness(i), i * 5);

const started = Date.now();
const rows = [];
await new Promise((done) => {
  const timer = setInterval(() => {
    const elapsed = Math.round((Date.now() - started) / 1000);
    const row = sample(elapsed);
    rows.push(row);
    appendFileSync(outPath, `${row.elapsed},${row.rssKiB},${row.openFiles},${row.joined},${row.joins},${row.unexpectedCloses}\n`);
    if (elapsed >= seconds) { clearInterval(timer); done(); }
  }, 10000);
});

stopping = true;
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });

const afterWarmUp = rows.filter((r) => r.elapsed >= 60);
const rss = afterWarmUp.map((r) => r.rssKiB);
const files = afterWarmUp.map((r) => r.openFiles);
console.log(JSON.stringify({
  seconds, witnessTarget, joins, unexpectedCloses,
  rssKiB: { first: rss[0], last: rss.at(-1), min: Math.min(...rss), max: Math.max(...rss) },
  openFiles: { min: Math.min(...files), max: Math.max(...files) },
}, null, 2));
process.exit(0);
