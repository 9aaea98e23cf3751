// A minimal Phoenix Channels client for the browser, serializer V2.
//
// Protocol, as the Phoenix server (and collective-server) speaks it:
//
// - The socket connects to `<endpoint>/websocket?vsn=2.0.0`. Every frame is a
//   text frame holding the JSON array [join_ref, ref, topic, event, payload].
// - A channel joins with event "phx_join". The join's ref is also its
//   join_ref, and every later frame of that membership carries it. The server
//   replies with "phx_reply" and {"status": "ok" | "error", "response": {...}}.
// - Pushes to one member carry its join_ref. Broadcasts carry join_ref null.
//   A frame whose join_ref belongs to an earlier membership is stale and is
//   dropped, as the official client drops it.
// - "phx_close" ends a membership, "phx_error" reports that the server-side
//   channel failed. In both cases this client joins again.
// - Topic "phoenix", event "heartbeat", empty payload, join_ref null keeps the
//   socket alive. The server replies with "phx_reply". A heartbeat that is still
//   unanswered when the next one is due means the connection is dead.
//
// Defaults: a heartbeat every 30 s, because collective-server closes a socket
// that is silent for 60 s, and a join timeout of 10 s. Reconnection goes on
// for ever with exponential backoff from 1 s, doubling up to 15 s. Each delay
// varies at random by ±30 %, so that many pages do not all reconnect in the
// same instant after a server restart. After a reconnect every channel joins
// again.
//
// This client implements only what a listening page needs: it sends no
// events of its own apart from joins and heartbeats, and it has no push
// buffer.

export const DEFAULT_OPTIONS = Object.freeze({
  heartbeatIntervalMs: 30000,
  joinTimeoutMs: 10000,
  initialBackoffMs: 1000,
  maxBackoffMs: 15000,
  // Fraction by which each backoff delay varies up or down at random.
  backoffJitter: 0.3,
});

const HEARTBEAT_TOPIC = 'phoenix';

// Returns the reconnect delay in ms before attempt `attempt` (0 for the first
// retry): `initialBackoffMs` doubled per attempt up to `maxBackoffMs`, then
// scaled by a random factor within ±`backoffJitter`.
export function backoffDelay(attempt, options = DEFAULT_OPTIONS, random = Math.random) {
  const base = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** attempt);
  const factor = 1 + options.backoffJitter * (2 * random() - 1);
  return Math.round(base * factor);
}

// Returns the WebSocket URL of the Phoenix endpoint served by the same host as
// `location`, for example "wss://example.org/socket/websocket?vsn=2.0.0".
export function sameOriginEndpoint(location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/socket/websocket?vsn=2.0.0`;
}

// One channel membership on a topic. Created by PhoenixSocket.channel().
// Its status is "closed", "joining" or "joined".
export class PhoenixChannel {
  constructor(socket, topic, params) {
    this.socket = socket;
    this.topic = topic;
    this.params = params;
    this.status = 'closed';
    this.joinRef = null;
    this.eventHandlers = new Map();
    this.statusHandlers = [];
    this.joinTimer = null;
    this.rejoinTimer = null;
    this.rejoinAttempts = 0;
  }

  // Registers `handler(payload, frame)` for server event `event`.
  on(event, handler) {
    if (!this.eventHandlers.has(event)) this.eventHandlers.set(event, []);
    this.eventHandlers.get(event).push(handler);
    return this;
  }

  // Registers `handler(status, reason)`, called on every status change.
  onStatus(handler) {
    this.statusHandlers.push(handler);
    return this;
  }

  // Sends phx_join with a fresh join_ref and waits for the reply. Called by the
  // socket whenever it opens, and by the channel itself to retry.
  join() {
    this.clearTimers();
    this.joinRef = this.socket.makeRef();
    this.setStatus('joining');

    this.joinTimer = setTimeout(() => this.handleJoinFailure('join timed out'), this.socket.options.joinTimeoutMs);
    this.socket.send([this.joinRef, this.joinRef, this.topic, 'phx_join', this.params]);
  }

  // Handles one frame addressed to this topic.
  handleFrame(frame) {
    const [joinRef, ref, , event, payload] = frame;
    if (joinRef !== null && joinRef !== this.joinRef) return;

    if (event === 'phx_reply' && ref === this.joinRef && this.status === 'joining') {
      this.handleJoinReply(payload);
      return;
    }
    if (event === 'phx_close' || event === 'phx_error') {
      this.handleJoinFailure(event === 'phx_close' ? 'closed by the server' : 'failed on the server');
      return;
    }
    for (const handler of this.eventHandlers.get(event) ?? []) handler(payload, frame);
  }

  handleJoinReply(payload) {
    clearTimeout(this.joinTimer);
    this.joinTimer = null;

    if (payload?.status === 'ok') {
      this.rejoinAttempts = 0;
      this.socket.resetBackoff();
      this.setStatus('joined');
      return;
    }
    const reason = payload?.response?.reason ?? 'no reason given';
    this.handleJoinFailure(`join rejected: ${reason}`);
  }

  // Marks the channel closed and tries to join again after a backoff delay,
  // as long as the socket is open. A closed socket rejoins on its next open.
  handleJoinFailure(reason) {
    this.clearTimers();
    this.setStatus('closed', reason);
    if (!this.socket.isOpen()) return;

    const delay = backoffDelay(this.rejoinAttempts++, this.socket.options);
    console.warn(`Channel ${this.topic}: ${reason}. Joining again in ${(delay / 1000).toFixed(1)} s.`);
    this.rejoinTimer = setTimeout(() => this.join(), delay);
  }

  // Forgets the membership after the socket closed.
  handleSocketClose() {
    this.clearTimers();
    this.joinRef = null;
    this.setStatus('closed', 'connection lost');
  }

  clearTimers() {
    clearTimeout(this.joinTimer);
    clearTimeout(this.rejoinTimer);
    this.joinTimer = null;
    this.rejoinTimer = null;
  }

  setStatus(status, reason = '') {
    if (status === this.status) return;
    this.status = status;
    for (const handler of this.statusHandlers) handler(status, reason);
  }
}

// A WebSocket connection to a Phoenix endpoint that reconnects for ever.
export class PhoenixSocket {
  constructor(endpointUrl, options = {}) {
    this.endpointUrl = endpointUrl;
    this.options = { ...DEFAULT_OPTIONS, ...options };
    this.channels = new Map();
    this.webSocket = null;
    this.nextRef = 0;
    this.pendingHeartbeatRef = null;
    this.heartbeatTimer = null;
    this.reconnectTimer = null;
    this.reconnectAttempts = 0;
    this.stopped = true;
  }

  // Returns the channel for `topic`, creating it on first use. The channel
  // joins as soon as the socket is open.
  channel(topic, params = {}) {
    if (!this.channels.has(topic)) {
      const channel = new PhoenixChannel(this, topic, params);
      this.channels.set(topic, channel);
      if (this.isOpen()) channel.join();
    }
    return this.channels.get(topic);
  }

  // Opens the connection, and keeps reopening it until disconnect().
  connect() {
    this.stopped = false;
    if (this.webSocket) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;

    const webSocket = new WebSocket(this.endpointUrl);
    this.webSocket = webSocket;
    webSocket.onopen = () => this.handleOpen();
    webSocket.onmessage = (message) => this.handleMessage(message.data);
    webSocket.onclose = (closeEvent) => this.handleClose(closeEvent.code);
  }

  // Closes the connection for good: no reconnect follows.
  disconnect() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.dropConnection(1000, 'client disconnected');
  }

  // Skips the remaining backoff delay, for example when the browser reports
  // that the network is back. Does nothing while a connection exists.
  reconnectNow() {
    if (this.stopped || this.webSocket) return;
    this.reconnectAttempts = 0;
    this.connect();
  }

  isOpen() {
    return this.webSocket?.readyState === WebSocket.OPEN;
  }

  makeRef() {
    this.nextRef += 1;
    return String(this.nextRef);
  }

  // Sends one frame if the socket is open and returns whether it was sent.
  send(frame) {
    if (!this.isOpen()) return false;
    this.webSocket.send(JSON.stringify(frame));
    return true;
  }

  resetBackoff() {
    this.reconnectAttempts = 0;
  }

  handleOpen() {
    console.info(`Connected to ${this.endpointUrl}.`);
    this.pendingHeartbeatRef = null;
    this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), this.options.heartbeatIntervalMs);
    for (const channel of this.channels.values()) channel.join();
  }

  handleMessage(data) {
    const frame = parseFrame(data);
    if (!frame) {
      console.warn('Ignored a server frame that is not a [join_ref, ref, topic, event, payload] array:', data);
      return;
    }

    const [, ref, topic, event] = frame;
    if (topic === HEARTBEAT_TOPIC) {
      if (event === 'phx_reply' && ref === this.pendingHeartbeatRef) this.pendingHeartbeatRef = null;
      return;
    }
    this.channels.get(topic)?.handleFrame(frame);
  }

  sendHeartbeat() {
    if (this.pendingHeartbeatRef !== null) {
      const seconds = this.options.heartbeatIntervalMs / 1000;
      console.warn(`No reply to the heartbeat sent ${seconds} s ago, so the connection is treated as lost. Reconnecting.`);
      this.dropConnection(1000, 'heartbeat timeout');
      return;
    }
    this.pendingHeartbeatRef = this.makeRef();
    this.send([null, this.pendingHeartbeatRef, HEARTBEAT_TOPIC, 'heartbeat', {}]);
  }

  // Closes the current WebSocket and handles the loss at once, without
  // waiting for its close event, which may come late or never once the
  // network is gone.
  dropConnection(code, reason) {
    const webSocket = this.webSocket;
    if (!webSocket) return;
    webSocket.onopen = webSocket.onmessage = webSocket.onclose = null;
    webSocket.close(code, reason);
    this.handleClose(code);
  }

  handleClose(code) {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.webSocket = null;
    for (const channel of this.channels.values()) channel.handleSocketClose();
    if (this.stopped) return;

    const delay = backoffDelay(this.reconnectAttempts++, this.options);
    console.info(`Connection closed with code ${code}. Reconnecting in ${(delay / 1000).toFixed(1)} s.`);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}

// Returns the frame as an array, or null unless `data` is JSON text of a
// five-element array whose topic and event are strings.
function parseFrame(data) {
  if (typeof data !== 'string') return null;
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    return null;
  }
  const wellFormed = Array.isArray(frame) && frame.length === 5
    && typeof frame[2] === 'string' && typeof frame[3] === 'string';
  return wellFormed ? frame : null;
}
