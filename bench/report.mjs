#!/usr/bin/env node
// Prints a Markdown summary of one bench/run.sh results folder: one row per
// run, the collective-server / ws-peer ratio for each witness count, and
// the project's targets checked against the runs that measure them.
//
//   node bench/report.mjs build/bench-results/20261204T215000Z-full
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const directory = process.argv[2];
if (!directory) {
  process.stderr.write('Usage: node bench/report.mjs RESULTS_DIR\n');
  process.exit(2);
}

const results = readdirSync(directory)
  .filter((name) => name.endsWith('.json'))
  .map((name) => JSON.parse(readFileSync(path.join(directory, name), 'utf8')))
  .filter((result) => result.label && result.settings)
  .sort((a, b) => a.settings.sockets - b.settings.sockets || a.label.localeCompare(b.label));

const show = (value) => (value === null || value === undefined ? 'n/a' : String(value));
const countOf = (counts) => Object.values(counts).reduce((sum, value) => sum + value, 0);
const ratio = (a, b) => (a === null || b === null || b === 0 ? 'n/a' : (a / b).toFixed(2));

const lines = [];
lines.push('| witnesses | server | joined | joins/s | join p99 ms | tick spread p50 / max ms | tick delay p99 ms | receipts missing | closed after join | RSS bytes/witness | CPU % of a core per 1000 idle | clients CPU % | machine busy % | all closes processed s |');
lines.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const result of results) {
  lines.push(
    `| ${result.settings.sockets} | ${result.label} | ${result.join.joined} | ${show(result.join.joins_per_second)} | ` +
      `${show(result.join.latency_ms.p99)} | ${show(result.ticks.spread_ms.p50)} / ${show(result.ticks.spread_ms.max)} | ` +
      `${show(result.ticks.delay_ms.p99)} | ${result.ticks.missing_receipts} | ${countOf(result.closes_after_join)} | ` +
      `${show(result.server.bytes_per_witness)} | ${show(result.server.cpu_percent_per_1000_witnesses)} | ` +
      `${show(result.clients.cpu_percent_idle_window)} | ${show(result.machine.busy_percent_idle_window)} | ` +
      `${show(result.server.close_processing_s)} |`,
  );
}

const failureLines = results
  .filter((result) => countOf(result.join.failures) > 0 || countOf(result.closes_after_join) > 0)
  .map(
    (result) =>
      `- ${result.label}, ${result.settings.sockets}: not joined ${JSON.stringify(result.join.failures)}; ` +
      `closed after join ${JSON.stringify(result.closes_after_join)}`,
  );
if (failureLines.length > 0) lines.push('', 'Sockets that did not join or closed early, by cause:', '', ...failureLines);

// Ratios pair the two servers at each witness count.
const pairs = [];
for (const sockets of [...new Set(results.map((result) => result.settings.sockets))]) {
  const collective = results.find((result) => result.settings.sockets === sockets && result.label === 'collective');
  const peer = results.find((result) => result.settings.sockets === sockets && result.label === 'ws-peer');
  if (collective && peer) pairs.push({ sockets, collective, peer });
}
if (pairs.length > 0) {
  lines.push('', 'collective-server / ws-peer (below 1 means collective-server is lower):', '');
  lines.push('| witnesses | joins/s | tick spread p50 | tick spread max | RSS bytes/witness | CPU per 1000 idle |');
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const { sockets, collective, peer } of pairs) {
    lines.push(
      `| ${sockets} | ${ratio(collective.join.joins_per_second, peer.join.joins_per_second)} | ` +
        `${ratio(collective.ticks.spread_ms.p50, peer.ticks.spread_ms.p50)} | ${ratio(collective.ticks.spread_ms.max, peer.ticks.spread_ms.max)} | ` +
        `${ratio(collective.server.bytes_per_witness, peer.server.bytes_per_witness)} | ` +
        `${ratio(collective.server.cpu_percent_per_1000_witnesses, peer.server.cpu_percent_per_1000_witnesses)} |`,
    );
  }
}

// The project's targets, each judged on the run that measures it: the
// 18 000-witness pair, the hold profile or the storm profile. --full runs
// all three into one folder. A target whose run is missing is marked so.
const verdict = (met) => (met ? 'met' : 'missed');
const notMeasured = (flag) => `not measured in this folder (bench/run.sh ${flag} or --full)`;
const hold = results.find((result) => result.label === 'collective-hold');
const stormOf = (kind) => results.find((result) => result.label === `${kind}-storm`);
const target = pairs.find((pair) => pair.sockets === 18000);
const withSpaces = (count) => String(count).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
if (target || hold || stormOf('collective')) lines.push('', 'Targets:', '');

if (target || hold || stormOf('collective')) {
  if (hold) {
    const closed = countOf(hold.closes_after_join);
    const heldTenMinutes = hold.join.joined >= 100000 && closed === 0 && hold.settings.window_s >= 600;
    lines.push(
      `- 100 000 joined witnesses held 10 minutes: ${verdict(heldTenMinutes)}; ${hold.join.joined} joined, ` +
        `${closed} closed during ${hold.settings.window_s} s`,
    );
  } else {
    lines.push(`- 100 000 joined witnesses held 10 minutes: ${notMeasured('--hold')}`);
  }

  if (target) {
    const { collective, peer } = target;
    const bytes = collective.server.bytes_per_witness;
    lines.push(
      `- RSS per idle witness at most 5 KB and below ws-peer: ${verdict(bytes <= 5120 && bytes < peer.server.bytes_per_witness)}; ` +
        `${bytes} B against ${peer.server.bytes_per_witness} B (18 000 witnesses)`,
    );
    lines.push(
      `- at 18 000, every witness gets a tick within half of ws-peer's time: ${verdict(collective.ticks.spread_ms.max <= peer.ticks.spread_ms.max / 2)}; ` +
        `max spread ${collective.ticks.spread_ms.max} ms against ${peer.ticks.spread_ms.max} ms ` +
        `(p50 ${collective.ticks.spread_ms.p50} against ${peer.ticks.spread_ms.p50})`,
    );
  } else {
    lines.push(`- RSS per idle witness at most 5 KB and below ws-peer: ${notMeasured('--compare')}`);
    lines.push(`- at 18 000, every witness gets a tick within half of ws-peer's time: ${notMeasured('--compare')}`);
  }

  if (hold && hold.ticks.measured > 0) {
    lines.push(
      `- at ${withSpaces(hold.join.joined)}, every witness gets a tick within 500 ms: ${verdict(hold.ticks.spread_ms.max <= 500)}; ` +
        `spread p50 ${hold.ticks.spread_ms.p50} ms, max ${hold.ticks.spread_ms.max} ms over ${hold.ticks.measured} ticks`,
    );
  } else {
    lines.push(`- at 100 000, every witness gets a tick within 500 ms: ${notMeasured('--hold')}`);
  }

  const collectiveStorm = stormOf('collective');
  const peerStorm = stormOf('ws-peer');
  if (collectiveStorm && peerStorm) {
    const notJoined = countOf(collectiveStorm.join.failures);
    const fast = collectiveStorm.join.joins_per_second >= 1.5 * peerStorm.join.joins_per_second;
    lines.push(
      `- a reconnect storm at 1.5 times ws-peer's join rate, no refused handshake: ${verdict(fast && notJoined === 0)}; ` +
        `${collectiveStorm.join.joins_per_second} against ${peerStorm.join.joins_per_second} joins/s ` +
        `(${ratio(collectiveStorm.join.joins_per_second, peerStorm.join.joins_per_second)}), ${notJoined} not joined`,
    );
  } else {
    lines.push(`- a reconnect storm at 1.5 times ws-peer's join rate, no refused handshake: ${notMeasured('--storm')}`);
  }
}

process.stdout.write(`${lines.join('\n')}\n`);
