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

// The reference witnesses on the official phoenix client, where a run had them.
const checked = results.filter((result) => result.crosscheck);
if (checked.length > 0) {
  lines.push('', 'Witnesses on the official phoenix client beside the load generators:', '');
  lines.push('| witnesses | server | phoenix witnesses joined | ticks compared | median receipts apart, max ms | last tick counted |');
  lines.push('| ---: | --- | ---: | ---: | ---: | ---: |');
  for (const result of checked) {
    lines.push(
      `| ${result.settings.sockets} | ${result.label} | ${result.reference.join.joined} of ${result.reference.join.requested} | ` +
        `${result.crosscheck.ticks_compared} of ${result.ticks.measured} | ${show(result.crosscheck.median_gap_ms.max)} | ` +
        `${show(result.reference.last_tick?.concurrent_connections)} |`,
    );
  }
}

// Ratios pair the two servers at each witness count: the single-process
// runs, and the hold, where each server ran as several processes. The storm
// is compared in the targets below, by its join rate.
const pairs = [];
for (const [suffix, run] of [['', ''], ['-hold', ' held']]) {
  for (const sockets of [...new Set(results.map((result) => result.settings.sockets))]) {
    const collective = results.find((result) => result.settings.sockets === sockets && result.label === `collective${suffix}`);
    const peer = results.find((result) => result.settings.sockets === sockets && result.label === `ws-peer${suffix}`);
    if (collective && peer) pairs.push({ sockets, run, collective, peer });
  }
}
if (pairs.length > 0) {
  lines.push('', 'collective-server / ws-peer (below 1 means collective-server is lower):', '');
  lines.push('| witnesses | joins/s | tick spread p50 | tick spread max | RSS bytes/witness | CPU per 1000 idle |');
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const { sockets, run, collective, peer } of pairs) {
    lines.push(
      `| ${sockets}${run} | ${ratio(collective.join.joins_per_second, peer.join.joins_per_second)} | ` +
        `${ratio(collective.ticks.spread_ms.p50, peer.ticks.spread_ms.p50)} | ${ratio(collective.ticks.spread_ms.max, peer.ticks.spread_ms.max)} | ` +
        `${ratio(collective.server.bytes_per_witness, peer.server.bytes_per_witness)} | ` +
        `${ratio(collective.server.cpu_percent_per_1000_witnesses, peer.server.cpu_percent_per_1000_witnesses)} |`,
    );
  }
}

// The project's targets, each judged on the run that measures it at the
// target's own scale: the 18 000-witness pair, a hold of 100 000 for 600 s
// and a storm of 100 000. --full runs all three into one folder. A smaller
// run is shown but not judged, so a miniature run cannot read as met.
const verdict = (met) => (met ? 'met' : 'missed');
const withSpaces = (count) => String(count).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
const missing = (runName, flag) => `not judged: ${runName} is not in this folder (bench/run.sh ${flag}, or --full with the default sizes)`;
const tooSmall = (run, bar) => `not judged: this run had ${withSpaces(run)}, the target needs ${bar}`;
const hold = results.find((result) => result.label === 'collective-hold');
const stormOf = (kind) => results.find((result) => result.label === `${kind}-storm`);
const peerHold = results.find((result) => result.label === 'ws-peer-hold');
const target = pairs.find((pair) => pair.sockets === 18000 && pair.run === '');

if (target || hold || stormOf('collective')) {
  lines.push('', 'Targets:', '');

  const heldLabel = '- 100 000 joined witnesses held 10 minutes';
  if (!hold) {
    lines.push(`${heldLabel}: ${missing('a hold', '--hold')}`);
  } else if (hold.settings.sockets < 100000 || hold.settings.window_s < 600) {
    lines.push(`${heldLabel}: ${tooSmall(hold.settings.sockets, '100 000 witnesses for 600 s')} (held ${hold.settings.window_s} s)`);
  } else {
    const closed = countOf(hold.closes_after_join);
    const peerFigures = peerHold
      ? `; ws-peer ${withSpaces(peerHold.join.joined)} joined, ${countOf(peerHold.closes_after_join)} closed`
      : '';
    lines.push(
      `${heldLabel}: ${verdict(hold.join.joined >= 100000 && closed === 0)}; ` +
        `${withSpaces(hold.join.joined)} joined, ${closed} closed during ${hold.settings.window_s} s${peerFigures}`,
    );
  }

  const memoryLabel = '- RSS per idle witness at most 5 KB and below ws-peer (18 000 witnesses)';
  const spreadLabel = "- at 18 000 witnesses, every witness gets a tick within half of ws-peer's time";
  if (target) {
    const { collective, peer } = target;
    const bytes = collective.server.bytes_per_witness;
    lines.push(
      `${memoryLabel}: ${verdict(bytes <= 5120 && bytes < peer.server.bytes_per_witness)}; ` +
        `${bytes} B against ${peer.server.bytes_per_witness} B`,
    );
    lines.push(
      `${spreadLabel}: ${verdict(collective.ticks.spread_ms.max <= peer.ticks.spread_ms.max / 2)}; ` +
        `max spread ${collective.ticks.spread_ms.max} ms against ${peer.ticks.spread_ms.max} ms ` +
        `(p50 ${collective.ticks.spread_ms.p50} against ${peer.ticks.spread_ms.p50})`,
    );
  } else {
    lines.push(`${memoryLabel}: ${missing('an 18 000-witness pair', '--compare')}`);
    lines.push(`${spreadLabel}: ${missing('an 18 000-witness pair', '--compare')}`);
  }

  const tickLabel = '- at 100 000 witnesses, every witness gets a tick within 500 ms';
  if (!hold) {
    lines.push(`${tickLabel}: ${missing('a hold', '--hold')}`);
  } else if (hold.join.joined < 100000) {
    lines.push(
      `${tickLabel}: ${tooSmall(hold.join.joined, '100 000')} (spread p50 ${hold.ticks.spread_ms.p50} ms, ` +
        `max ${hold.ticks.spread_ms.max} ms)`,
    );
  } else {
    // ws-peer's figures are shown for scale; the verdict is collective-server's alone.
    const peerFigures = peerHold
      ? `; ws-peer ${peerHold.ticks.spread_ms.p50} / ${peerHold.ticks.spread_ms.max} ms ` +
        `(${ratio(hold.ticks.spread_ms.p50, peerHold.ticks.spread_ms.p50)} / ${ratio(hold.ticks.spread_ms.max, peerHold.ticks.spread_ms.max)})`
      : '';
    lines.push(
      `${tickLabel}: ${verdict(hold.ticks.measured > 0 && hold.ticks.spread_ms.max <= 500)}; ` +
        `spread p50 ${hold.ticks.spread_ms.p50} ms, max ${hold.ticks.spread_ms.max} ms over ${hold.ticks.measured} ticks${peerFigures}`,
    );
  }

  const stormLabel = "- a reconnect storm of 100 000 at 1.5 times ws-peer's join rate, no refused handshake";
  const collectiveStorm = stormOf('collective');
  const peerStorm = stormOf('ws-peer');
  if (!collectiveStorm || !peerStorm) {
    lines.push(`${stormLabel}: ${missing('a storm of both servers', '--storm')}`);
  } else {
    const notJoined = countOf(collectiveStorm.join.failures);
    const figures =
      `${collectiveStorm.join.joins_per_second} against ${peerStorm.join.joins_per_second} joins/s ` +
      `(${ratio(collectiveStorm.join.joins_per_second, peerStorm.join.joins_per_second)}), ${notJoined} not joined`;
    if (collectiveStorm.settings.sockets < 100000) {
      lines.push(`${stormLabel}: ${tooSmall(collectiveStorm.settings.sockets, '100 000')} (${figures})`);
    } else {
      const fast = collectiveStorm.join.joins_per_second >= 1.5 * peerStorm.join.joins_per_second;
      lines.push(`${stormLabel}: ${verdict(fast && notJoined === 0)}; ${figures}`);
    }
  }
}

process.stdout.write(`${lines.join('\n')}\n`);
