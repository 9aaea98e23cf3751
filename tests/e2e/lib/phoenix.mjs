// Small helpers for tests that drive the official phoenix client.

// Resolves with the outcome of a phoenix Push: `{ status, response }`, where
// status is 'ok', 'error' or 'timeout'.
export function replyOf(push) {
  return new Promise((resolve) => {
    push
      .receive('ok', (response) => resolve({ status: 'ok', response }))
      .receive('error', (response) => resolve({ status: 'error', response }))
      .receive('timeout', () => resolve({ status: 'timeout' }));
  });
}

// Resolves with `promise`, or rejects after `timeoutMs` with a message that
// contains `description`.
export function within(promise, timeoutMs, description) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}`)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export const LOBBY = 'collective:lobby';

// Makes a phoenix Socket (not yet connected) and its lobby channel for one
// witness. Reconnects and rejoins wait longer than any test runs, because a
// reconnect would hide a dropped socket and could reach another server that
// took the port; a test of reconnects passes a shorter reconnectAfterMs.
// `events` receives the lobby events in arrival order, each
// as { event, payload, at }.
export function lobbyClient(Socket, server, transport, { reconnectAfterMs = 60_000 } = {}) {
  const socket = new Socket(server.socketUrl, {
    transport,
    timeout: 5000,
    reconnectAfterMs: () => reconnectAfterMs,
    rejoinAfterMs: () => reconnectAfterMs,
  });
  const channel = socket.channel(LOBBY);
  const events = [];
  for (const event of ['welcome', 'tick', 'presence', 'evolution']) {
    channel.on(event, (payload) => events.push({ event, payload, at: Date.now() }));
  }
  return { socket, channel, events };
}
