// The page's copy of the Collective's global state, updated from the payloads
// of the server events on collective:lobby. Field names follow the wire
// protocol (concurrent_connections becomes concurrentConnections).
//
// Each apply method checks the fields it reads. A payload with a missing or
// invalid field is rejected as a whole, logged, and leaves the state as it was,
// because a half-applied message would show numbers that never existed.

export class CollectiveState {
  constructor() {
    this.concurrentConnections = null;
    this.peakConnections = null;
    this.totalConnectionSeconds = null;
    // Milestone catalogue by id, in catalogue order: {id, name, description, kind, threshold}.
    this.milestones = new Map();
    // Ids of unlocked milestones, in the order they became known to the page.
    this.unlockedMilestones = new Set();
    // Chronos tick interval announced in the last welcome, in ms.
    this.tickIntervalMs = 5000;
    // performance.now() of the last update of totalConnectionSeconds.
    this.totalUpdatedAt = 0;
  }

  // Applies a welcome payload, the full snapshot sent after each join.
  // Returns false if the payload is invalid.
  applyWelcome(payload) {
    const counts = readCounts(payload, ['concurrent_connections', 'peak_connections', 'total_connection_seconds']);
    const catalogue = readCatalogue(payload?.milestones);
    const unlocked = readIdList(payload?.unlocked_milestones);
    const tickIntervalMs = payload?.tick_interval_ms;
    if (!counts || !catalogue || !unlocked || !Number.isInteger(tickIntervalMs) || tickIntervalMs < 1) {
      return reject('welcome', payload);
    }

    this.setCounts(counts);
    this.milestones = new Map(catalogue.map((milestone) => [milestone.id, milestone]));
    this.unlockedMilestones = new Set(unlocked);
    this.tickIntervalMs = tickIntervalMs;
    return true;
  }

  // Applies a tick payload. Returns false if the payload is invalid.
  applyTick(payload) {
    const counts = readCounts(payload, ['concurrent_connections', 'peak_connections', 'total_connection_seconds']);
    if (!counts) return reject('tick', payload);
    this.setCounts(counts);
    return true;
  }

  // Applies a presence payload. Returns false if the payload is invalid.
  applyPresence(payload) {
    const counts = readCounts(payload, ['concurrent_connections', 'peak_connections']);
    if (!counts) return reject('presence', payload);
    this.setCounts(counts);
    return true;
  }

  // Records the milestone of an evolution payload as unlocked. Returns the
  // milestone ({id, name, description, kind}), or null if the payload is
  // invalid or the milestone was already unlocked.
  applyEvolution(payload) {
    const fields = ['id', 'name', 'description', 'kind'];
    if (!payload || fields.some((field) => typeof payload[field] !== 'string')) {
      reject('evolution', payload);
      return null;
    }
    if (this.unlockedMilestones.has(payload.id)) return null;

    const milestone = { ...this.milestones.get(payload.id), ...pick(payload, fields) };
    this.milestones.set(milestone.id, milestone);
    this.unlockedMilestones.add(milestone.id);
    return milestone;
  }

  // Returns the unlocked milestones in catalogue order, followed by any
  // unlocked id that the catalogue does not list.
  unlockedMilestoneList() {
    const inCatalogue = [...this.milestones.values()].filter((milestone) => this.unlockedMilestones.has(milestone.id));
    const unknown = [...this.unlockedMilestones]
      .filter((id) => !this.milestones.has(id))
      .map((id) => ({ id, name: id, description: '' }));
    return [...inCatalogue, ...unknown];
  }

  // Estimates the total witnessed seconds at performance.now() `now`.
  // Between ticks the total grows by one second per witness per second. The
  // estimate never runs ahead by more than one tick interval of growth, so a
  // late tick cannot make it drift far from the server's figure.
  estimateTotalSeconds(now) {
    if (this.totalConnectionSeconds === null) return null;
    const elapsedMs = Math.min(Math.max(0, now - this.totalUpdatedAt), this.tickIntervalMs);
    return this.totalConnectionSeconds + (this.concurrentConnections ?? 0) * (elapsedMs / 1000);
  }

  setCounts(counts) {
    if (counts.concurrent_connections !== undefined) this.concurrentConnections = counts.concurrent_connections;
    if (counts.peak_connections !== undefined) this.peakConnections = counts.peak_connections;
    if (counts.total_connection_seconds !== undefined) {
      this.totalConnectionSeconds = counts.total_connection_seconds;
      this.totalUpdatedAt = performance.now();
    }
  }
}

// Returns {field: value} for the given fields, or null unless every one is a
// non-negative integer.
function readCounts(payload, fields) {
  if (!payload || typeof payload !== 'object') return null;
  const valid = fields.every((field) => Number.isInteger(payload[field]) && payload[field] >= 0);
  return valid ? pick(payload, fields) : null;
}

// Returns the catalogue entries, or null unless it is a non-empty array of
// entries with string id, name and description.
function readCatalogue(entries) {
  if (!Array.isArray(entries) || entries.length === 0) return null;
  const valid = entries.every((entry) => entry && ['id', 'name', 'description', 'kind'].every((field) => typeof entry[field] === 'string'));
  return valid ? entries.map((entry) => pick(entry, ['id', 'name', 'description', 'kind', 'threshold'])) : null;
}

function readIdList(ids) {
  return Array.isArray(ids) && ids.every((id) => typeof id === 'string') ? ids : null;
}

function pick(object, fields) {
  return Object.fromEntries(fields.map((field) => [field, object[field]]));
}

function reject(event, payload) {
  console.warn(`Ignored a ${event} event with a missing or invalid field:`, payload);
  return false;
}
