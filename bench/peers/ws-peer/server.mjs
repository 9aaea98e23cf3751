// ws-peer: a reference server for the benchmarks, on Node.js and the ws
// package. It speaks the part of The Collective's protocol that the load
// generator uses, with the same settings and frames as collective-server,
// so one load can be aimed at both and every figure becomes a ratio:
//
//   phx_join on collective:lobby  -> phx_reply ok, then welcome
//   phx_leave                     -> phx_reply ok, then phx_close
//   heartbeat on phoenix          -> phx_reply ok
//   every tick interval           -> tick broadcast to every joined socket
//   a change of the count         -> presence, at most once per presence interval
//
// It has no store, no per-address admission limits and no milestones (its
// welcome lists none unlocked and it never sends evolution). It runs on one
// thread, as Node.js does.
//
// Settings, as environment variables with collective-server's names:
// PORT (4000), COLLECTIVE_BIND (127.0.0.1), COLLECTIVE_TICK_INTERVAL_MS
// (5000), COLLECTIVE_PRESENCE_INTERVAL_MS (250), COLLECTIVE_IDLE_TIMEOUT_MS
// (60000), COLLECTIVE_MAX_FRAME_BYTES (4096), COLLECTIVE_MAX_BACKLOG_BYTES
// (65536), and COLLECTIVE_MILESTONES, the catalogue file (default
// shared/milestones.json in this checkout).
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const LOBBY = 'collective:lobby';
const SOCKET_PATH = '/socket/websocket';
// Pending connections the kernel queues: the backlog collective-server requests.
const LISTEN_BACKLOG = 4096;

function fail(message) {
  process.stderr.write(`ws-peer: ${message}\n`);
  process.exit(2);
}

function integerSetting(name, fallback, minimum, maximum) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum || value > maximum) {
    fail(`invalid ${name} '${text}': expected an integer from ${minimum} to ${maximum}`);
  }
  return value;
}

const settings = {
  port: integerSetting('PORT', 4000, 0, 65535),
  bind: process.env.COLLECTIVE_BIND || '127.0.0.1',
  tickIntervalMs: integerSetting('COLLECTIVE_TICK_INTERVAL_MS', 5000, 100, 600000),
  presenceIntervalMs: integerSetting('COLLECTIVE_PRESENCE_INTERVAL_MS', 250, 0, 600000),
  idleTimeoutMs: integerSetting('COLLECTIVE_IDLE_TIMEOUT_MS', 60000, 1000, 86400000),
  maxFrameBytes: integerSetting('COLLECTIVE_MAX_FRAME_BYTES', 4096, 64, 1048576),
  maxBacklogBytes: integerSetting('COLLECTIVE_MAX_BACKLOG_BYTES', 65536, 1024, 1073741824),
  milestonesPath:
    process.env.COLLECTIVE_MILESTONES || fileURLToPath(new URL('../../../shared/milestones.json', import.meta.url)),
};

// The welcome carries the catalogue in collective-server's shape: id, name,
// description, kind and threshold of each milestone.
function loadCatalogue(path) {
  let document;
  try {
    document = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    fail(`cannot read the milestone catalogue ${path}: ${error.message}; set COLLECTIVE_MILESTONES`);
  }
  if (!Array.isArray(document.milestones) || document.milestones.length === 0) {
    fail(`invalid milestone catalogue ${path}: 'milestones' is not a non-empty array`);
  }
  return document.milestones.map(({ id, name, description, kind, threshold }) => ({
    id,
    name,
    description,
    kind,
    threshold,
  }));
}

const catalogue = loadCatalogue(settings.milestonesPath);

// --- global state ------------------------------------------------------------

// Every open socket, joined or not, for the idle sweep.
const sessions = new Map();
// Joined sockets: the witnesses that broadcasts go to.
const witnesses = new Set();
let peakConnections = 0;
let witnessSeconds = 0;
let countChangedAt = performance.now();
let tickNumber = 0;

// Adds the witness-seconds since the last count change, so the total is
// exact between changes, as Chronos measures it.
function accumulate() {
  const now = performance.now();
  witnessSeconds += (witnesses.size * (now - countChangedAt)) / 1000;
  countChangedAt = now;
}

function snapshot() {
  return {
    concurrent_connections: witnesses.size,
    peak_connections: peakConnections,
    total_connection_seconds: Math.floor(witnessSeconds),
  };
}

// --- sending -----------------------------------------------------------------

function send(socket, frame) {
  socket.send(JSON.stringify(frame));
}

function reply(socket, [joinRef, ref, topic], status, response = {}) {
  send(socket, [joinRef, ref, topic, 'phx_reply', { status, response }]);
}

// Serializes a broadcast once and sends the same bytes to every witness. A
// witness whose unsent data passed the backlog limit is closed instead, as
// collective-server does, and cut off a second later.
function broadcast(event, payload) {
  const data = Buffer.from(JSON.stringify([null, null, LOBBY, event, payload]));
  for (const socket of witnesses) {
    const session = sessions.get(socket);
    if (!session || session.closing) continue;
    if (socket.bufferedAmount > settings.maxBacklogBytes) {
      closeSocket(socket, 1008, 'send backlog over limit');
      setTimeout(() => socket.terminate(), 1000).unref();
      continue;
    }
    socket.send(data, { binary: false });
  }
}

function closeSocket(socket, code, reason) {
  const session = sessions.get(socket);
  if (session) session.closing = true;
  socket.close(code, reason);
}

// --- presence and ticks ------------------------------------------------------

let presenceTimer = null;
let presenceSentAt = -Infinity;
let presenceSentCount = -1;

function countChanged() {
  if (presenceTimer) return;
  const delay = Math.max(0, presenceSentAt + settings.presenceIntervalMs - performance.now());
  presenceTimer = setTimeout(sendPresence, delay);
}

function sendPresence() {
  presenceTimer = null;
  if (witnesses.size === presenceSentCount) return;
  presenceSentAt = performance.now();
  presenceSentCount = witnesses.size;
  broadcast('presence', { concurrent_connections: witnesses.size, peak_connections: peakConnections });
}

// Ticks fall on multiples of the interval on the system clock, as
// collective-server's do, so the workers of one cluster tick in the same
// instant. A late tick does not push the later ones back, and a timer that
// fires a little early cannot bring the same tick twice.
let lastTickDueAt = 0;

function scheduleTick() {
  const now = Date.now();
  const interval = settings.tickIntervalMs;
  const dueAt = Math.max((Math.floor(now / interval) + 1) * interval, lastTickDueAt + interval);
  lastTickDueAt = dueAt;
  setTimeout(tick, dueAt - now);
}

function tick() {
  accumulate();
  tickNumber += 1;
  broadcast('tick', { ...snapshot(), tick: tickNumber });
  scheduleTick();
}

// --- the channel ---------------------------------------------------------------

function isRef(value) {
  return value === null || typeof value === 'string';
}

function isFrame(frame) {
  return (
    Array.isArray(frame) &&
    frame.length === 5 &&
    isRef(frame[0]) &&
    isRef(frame[1]) &&
    typeof frame[2] === 'string' &&
    typeof frame[3] === 'string' &&
    frame[4] !== null &&
    typeof frame[4] === 'object' &&
    !Array.isArray(frame[4])
  );
}

function join(socket, session, frame) {
  const newWitness = session.joinRef === null;
  session.joinRef = frame[0] ?? frame[1];
  if (newWitness) {
    accumulate();
    witnesses.add(socket);
    peakConnections = Math.max(peakConnections, witnesses.size);
    countChanged();
  }

  reply(socket, frame, 'ok');
  send(socket, [
    session.joinRef,
    null,
    LOBBY,
    'welcome',
    {
      ...snapshot(),
      unlocked_milestones: [],
      milestones: catalogue,
      tick_interval_ms: settings.tickIntervalMs,
      server_time: new Date().toISOString(),
    },
  ]);
}

function forget(socket, session) {
  if (session.joinRef === null) return;
  session.joinRef = null;
  accumulate();
  witnesses.delete(socket);
  countChanged();
}

function leave(socket, session, frame) {
  reply(socket, frame, 'ok');
  send(socket, [session.joinRef, session.joinRef, LOBBY, 'phx_close', {}]);
  forget(socket, session);
}

function handleMessage(socket, session, data, isBinary) {
  if (session.closing) return;
  session.lastFrameAt = performance.now();

  if (isBinary) {
    closeSocket(socket, 1003, 'binary frames are not part of the protocol');
    return;
  }
  if (data.length > settings.maxFrameBytes) {
    closeSocket(socket, 1009, `frame over ${settings.maxFrameBytes} bytes`);
    return;
  }
  let frame;
  try {
    frame = JSON.parse(data.toString('utf8'));
  } catch {
    closeSocket(socket, 1007, 'frame is not JSON');
    return;
  }
  if (!isFrame(frame)) {
    closeSocket(socket, 1008, 'frame is not [join_ref, ref, topic, event, payload]');
    return;
  }

  const [, , topic, event] = frame;
  if (topic === 'phoenix') {
    if (event === 'heartbeat') reply(socket, frame, 'ok');
    else reply(socket, frame, 'error', { reason: 'unknown event' });
    return;
  }
  if (topic === LOBBY && event === 'phx_join') {
    join(socket, session, frame);
    return;
  }
  if (topic === LOBBY && session.joinRef !== null && event === 'phx_leave') {
    leave(socket, session, frame);
    return;
  }
  const joinedLobby = topic === LOBBY && session.joinRef !== null;
  reply(socket, frame, 'error', { reason: joinedLobby ? 'unknown event' : 'unmatched topic' });
}

function adopt(socket, versionOk) {
  const session = { joinRef: null, lastFrameAt: performance.now(), closing: false };
  sessions.set(socket, session);
  socket.on('message', (data, isBinary) => handleMessage(socket, session, data, isBinary));
  socket.on('close', () => {
    forget(socket, session);
    sessions.delete(socket);
  });
  socket.on('error', () => {}); // ws closes the socket itself; the close handler counts it
  if (!versionOk) closeSocket(socket, 1008, 'the endpoint is /socket/websocket?vsn=2.0.0');
}

// Closes sockets that sent nothing for the idle timeout; the phoenix client
// heartbeats every 30 s.
function sweepIdleSockets() {
  const now = performance.now();
  for (const [socket, session] of sessions) {
    if (!session.closing && now - session.lastFrameAt > settings.idleTimeoutMs) {
      closeSocket(socket, 1000, 'idle timeout');
    }
  }
}

// --- HTTP ----------------------------------------------------------------------

const webSockets = new WebSocketServer({
  noServer: true,
  clientTracking: false,
  perMessageDeflate: false,
  // Frames over the limit are closed with 1009 in handleMessage; this is ws's
  // own backstop above it.
  maxPayload: settings.maxFrameBytes * 4,
});

function plain(response, status, text) {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

const server = http.createServer((request, response) => {
  const path = new URL(request.url, 'http://localhost').pathname;
  if (path === '/health/live' || path === '/health/ready') {
    plain(response, 200, 'ok\n');
  } else if (path === '/metrics/state') {
    response.writeHead(200, { 'content-type': 'application/json' });
    // The fields collective-server's /metrics/state has under "node".
    response.end(JSON.stringify({ ...snapshot(), tick: tickNumber, node: { witnesses: witnesses.size, connections: sessions.size } }));
  } else if (path === SOCKET_PATH) {
    plain(response, 426, 'This path takes WebSocket upgrades only.\n');
  } else {
    plain(response, 404, 'Not found.\n');
  }
});

server.on('upgrade', (request, rawSocket, head) => {
  rawSocket.on('error', () => rawSocket.destroy());
  const url = new URL(request.url, 'http://localhost');
  if (url.pathname !== SOCKET_PATH) {
    rawSocket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  webSockets.handleUpgrade(request, rawSocket, head, (socket) => adopt(socket, url.searchParams.get('vsn') === '2.0.0'));
});

server.on('error', (error) => fail(`cannot listen on ${settings.bind} port ${settings.port}: ${error.message}`));

server.listen({ port: settings.port, host: settings.bind, backlog: LISTEN_BACKLOG }, () => {
  const { port } = server.address();
  process.stderr.write(
    `ws-peer: listening on ${settings.bind} port ${port}, tick every ${settings.tickIntervalMs} ms, ` +
      `${catalogue.length} milestones\n`,
  );
  scheduleTick();
  setInterval(sweepIdleSockets, Math.min(5000, Math.max(100, settings.idleTimeoutMs / 4)));
});

function shutdown(signal) {
  process.stderr.write(`ws-peer: ${signal} received; closing ${sessions.size} sockets\n`);
  server.close();
  for (const socket of sessions.keys()) closeSocket(socket, 1001, 'server shutting down');
  setTimeout(() => process.exit(0), 500).unref();
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
