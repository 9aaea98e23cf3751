// Entry point of the page: joins collective:lobby on the server that served
// the page and connects its events to the view.

import { CollectiveState } from './collective-state.js';
import { EvolutionOverlay } from './evolution.js';
import { PhoenixSocket, sameOriginEndpoint } from './phoenix-socket.js';
import { CollectiveView } from './view.js';

const LOBBY_TOPIC = 'collective:lobby';

// Redraw interval of the total time in words, in ms. The words change at
// most once a second, so they lag by less than a quarter second, except in a
// background tab where the browser throttles timers.
const TOTAL_TIME_REDRAW_MS = 250;

const state = new CollectiveState();
const view = new CollectiveView(document);
const overlay = new EvolutionOverlay(document.getElementById('evolution'));

const socket = new PhoenixSocket(sameOriginEndpoint(window.location));
const lobby = socket.channel(LOBBY_TOPIC);

// The page counts as connected once the welcome snapshot is in, not at the
// join reply, so that "connected" always comes with figures.
lobby.onStatus((status) => {
  if (status !== 'joined') view.showConnection(false);
});

lobby.on('welcome', (payload) => {
  if (!state.applyWelcome(payload)) return;
  view.resetTotalTime();
  view.showCounts(state);
  view.showTotalTime(state);
  view.showMilestones(state);
  view.revealFigures();
  view.showConnection(true);
});

lobby.on('tick', (payload) => {
  if (!state.applyTick(payload)) return;
  view.showCounts(state);
  view.showTotalTime(state);
});

lobby.on('presence', (payload) => {
  if (state.applyPresence(payload)) view.showCounts(state);
});

lobby.on('evolution', (payload) => {
  const milestone = state.applyEvolution(payload);
  if (!milestone) return;
  view.showMilestones(state, milestone.id);
  overlay.announce(milestone);
});

setInterval(() => view.showTotalTime(state), TOTAL_TIME_REDRAW_MS);

// When the browser fires "online", the network is back, and there is no
// reason to sit out the rest of a backoff delay.
window.addEventListener('online', () => socket.reconnectNow());

view.showConnection(false);
socket.connect();
