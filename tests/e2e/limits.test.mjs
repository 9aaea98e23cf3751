// End-to-end tests of the limits that protect a public server: the browser
// origin check, connections per address, new connections per minute, the
// handshake timeout and the unsent backlog per socket. Each limit is crossed
// once. The refusal must carry the right status or close code and bump its
// metric, and the other witnesses stay connected and counted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { connect } from 'node:net';
import WebSocket from 'ws';

import { sleep, startServer, waitFor } from './lib/server.mjs';

const JOIN = JSON.stringify(['1', '1', 'collective:lobby', 'phx_join', {}]);

// Opens a raw WebSocket and resolves with it once open, or with the HTTP
// status of a refused upgrade as { refusedStatus }.
function openSocket(server, { origin, join = true } = {}) {
  return new Promise((resolve, reject) => {
    const headers = origin ? { Origin: origin } : {};
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket/websocket?vsn=2.0.0`, { headers });
    ws.closeEvent = null;
    ws.on('close', (code, reason) => { ws.closeEvent = { code, reason: reason.toString() }; });
    ws.on('unexpected-response', (request, response) => {
      resolve({ refusedStatus: response.statusCode });
      request.destroy();
    });
    ws.on('error', (error) => { if (ws.readyState !== WebSocket.CLOSED) reject(error); });
    ws.on('open', () => {
      if (join) ws.send(JOIN);
      resolve(ws);
    });
  });
}

// The limits count every connection from an address, HTTP ones included,
// so the test's own queries come from another loopback address (127.0.0.2)
// on fresh connections, and never count against the sockets under test.
function httpText(server, path) {
  return new Promise((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port: server.port, path, localAddress: '127.0.0.2', agent: false },
      (response) => {
        let body = '';
        response.on('data', (chunk) => { body += chunk; });
        response.on('end', () => resolve(body));
      });
    request.on('error', reject);
  });
}

// The harness's start-up checks leave keep-alive connections from
// 127.0.0.1; they count against its limits until the handshake timeout
// cuts them, so tests of those limits wait that long first.
async function waitForHarnessConnectionsToClose(timeoutMs) {
  await sleep(timeoutMs + 600);
}

async function metricSample(server, name, reason) {
  const text = await httpText(server, '/metrics');
  const line = text.split('\n').find((l) => l.startsWith(`${name}{reason="${reason}"}`));
  assert.ok(line, `metric ${name}{reason="${reason}"} is missing`);
  return Number(line.split(' ').pop());
}

async function concurrent(server) {
  return JSON.parse(await httpText(server, '/metrics/state')).concurrent_connections;
}

function closeAll(sockets) {
  for (const ws of sockets) if (ws.terminate) ws.terminate();
}

test('cross-origin upgrade refused, matching accepted', async (t) => {
  const server = await startServer({ env: { COLLECTIVE_ENV: 'prod', COLLECTIVE_BIND: '127.0.0.1',
                                            PHX_HOST: 'collective.example,*.gallery.example' } });
  const sockets = [];
  t.after(async () => { closeAll(sockets); await server.dispose(); });

  const foreign = await openSocket(server, { origin: 'https://elsewhere.example' });
  assert.equal(foreign.refusedStatus, 403);
  const lookalike = await openSocket(server, { origin: 'https://collective.example.evil.test' });
  assert.equal(lookalike.refusedStatus, 403);
  // In prod, loopback origins are not allowed unless PHX_HOST names them.
  const loopback = await openSocket(server, { origin: 'http://localhost:4000' });
  assert.equal(loopback.refusedStatus, 403);

  for (const origin of ['https://collective.example', 'https://hall.gallery.example', undefined]) {
    const ws = await openSocket(server, { origin });
    assert.ok(ws instanceof WebSocket, `origin ${origin} should be accepted`);
    sockets.push(ws);
  }
  await waitFor(async () => (await concurrent(server)) === 3, { what: 'three witnesses' });
  assert.equal(await metricSample(server, 'collective_refused_connections_total', 'origin'), 3);
});

test('connections per address limited with 429', async (t) => {
  const server = await startServer({ env: { COLLECTIVE_MAX_CONNECTIONS_PER_ADDRESS: '3',
                                            COLLECTIVE_HANDSHAKE_TIMEOUT_MS: '500' } });
  const sockets = [];
  t.after(async () => { closeAll(sockets); await server.dispose(); });
  await waitForHarnessConnectionsToClose(500);

  for (let i = 0; i < 3; i++) sockets.push(await openSocket(server));
  await waitFor(async () => (await concurrent(server)) === 3, { what: 'three witnesses' });

  const fourth = await openSocket(server);
  assert.equal(fourth.refusedStatus, 429);
  assert.equal(await metricSample(server, 'collective_refused_connections_total', 'too_many_open_per_address'), 1);
  assert.equal(await concurrent(server), 3);
  assert.ok(sockets.every((ws) => ws.readyState === WebSocket.OPEN), 'the admitted witnesses stay connected');

  // A closed connection frees its place.
  sockets.shift().close();
  await waitFor(async () => (await concurrent(server)) === 2, { what: 'the count to fall to 2' });
  const again = await openSocket(server);
  assert.ok(again instanceof WebSocket, 'a new connection is admitted once one closed');
  sockets.push(again);
});

test('new connections per minute limited with 429', async (t) => {
  const server = await startServer({ env: { COLLECTIVE_MAX_NEW_CONNECTIONS_PER_MINUTE: '4' } });
  const sockets = [];
  t.after(async () => { closeAll(sockets); await server.dispose(); });

  // The harness's start-up checks opened new connections from 127.0.0.1
  // within this minute too, so the limit is reached after at most four.
  let refused = null;
  for (let i = 0; i < 5 && !refused; i++) {
    const result = await openSocket(server);
    if (result.refusedStatus) refused = result;
    else sockets.push(result);
  }
  assert.equal(refused?.refusedStatus, 429);
  assert.equal(await metricSample(server, 'collective_refused_connections_total', 'too_many_new_per_address'), 1);
  assert.equal(await concurrent(server), sockets.length);
  assert.ok(sockets.every((ws) => ws.readyState === WebSocket.OPEN), 'admitted witnesses stay connected');

  // A different address has its own allowance.
  const other = new WebSocket(`ws://127.0.0.1:${server.port}/socket/websocket?vsn=2.0.0`, { localAddress: '127.0.0.3' });
  await new Promise((resolve, reject) => { other.on('open', resolve); other.on('error', reject); });
  sockets.push(other);
});

test('silent TCP connection cut at handshake timeout', async (t) => {
  const server = await startServer({ env: { COLLECTIVE_HANDSHAKE_TIMEOUT_MS: '600' } });
  const sockets = [];
  t.after(async () => { closeAll(sockets); await server.dispose(); });
  await waitForHarnessConnectionsToClose(600);

  const witness = await openSocket(server);
  sockets.push(witness);
  const before = await metricSample(server, 'collective_refused_connections_total', 'handshake_timeout');

  // A client that connects and never sends its request.
  const started = Date.now();
  const silent = connect(server.port, '127.0.0.1');
  const closedAfter = await new Promise((resolve) => {
    silent.on('close', () => resolve(Date.now() - started));
    silent.on('error', () => {});
  });
  assert.ok(closedAfter >= 550, `closed after ${closedAfter} ms, before the timeout`);
  assert.ok(closedAfter < 3000, `closed after ${closedAfter} ms, long after the timeout`);
  assert.equal(await metricSample(server, 'collective_refused_connections_total', 'handshake_timeout'), before + 1);

  // The upgraded witness is not touched by the handshake timeout.
  await new Promise((r) => setTimeout(r, 800));
  assert.equal(witness.readyState, WebSocket.OPEN);
  assert.equal(await concurrent(server), 1);
});

test('witness that stops reading closed at backlog limit', async (t) => {
  // A fast tick and the smallest backlog limit fill the unread socket quickly.
  const server = await startServer({ env: { COLLECTIVE_TICK_INTERVAL_MS: '100', COLLECTIVE_MAX_BACKLOG_BYTES: '1024' } });
  const sockets = [];
  t.after(async () => { closeAll(sockets); await server.dispose(); });

  const reader = await openSocket(server);
  sockets.push(reader);
  const stalled = await openSocket(server);
  sockets.push(stalled);
  await waitFor(async () => (await concurrent(server)) === 2, { what: 'two witnesses' }).catch(async (error) => {
    throw new Error(`${error.message}\nstate: ${await httpText(server, '/metrics/state')}\n${server.output}`);
  });

  // Stop reading, then request 4000 welcomes (each repeated join gets a full
  // snapshot of about 2.5 KB). That is more than the kernel's socket buffers
  // take on loopback (up to about 4 MB once autotuned), so the server's
  // unsent backlog passes the limit before the next tick.
  stalled._socket.pause();
  for (let i = 0; i < 4000; i++) stalled.send(JSON.stringify(['1', String(i + 2), 'collective:lobby', 'phx_join', {}]));
  await waitFor(async () => (await metricSample(server, 'collective_refused_connections_total', 'send_backlog')) >= 1,
    { timeoutMs: 10000, intervalMs: 100, what: 'the stalled witness to be closed' }).catch(async (error) => {
    const state = await httpText(server, '/metrics/state');
    throw new Error(`${error.message}\nstate: ${state}\nstalled readyState ${stalled.readyState}, ` +
                    `buffered by the client ${stalled.bufferedAmount}\nserver log:\n${server.output}`);
  });
  await waitFor(async () => (await concurrent(server)) === 1, { timeoutMs: 5000, what: 'the count to fall to 1' });
  assert.equal(reader.readyState, WebSocket.OPEN, 'the reading witness stays connected');
});
