// ws-peer on several processes: a Node.js cluster primary that forks
// WS_PEER_WORKERS copies of server.mjs (default 2) on one port. Node.js 20
// has no SO_REUSEPORT, so the workers share one listening socket and each
// accepts from it (cluster.SCHED_NONE), as several collective-server
// processes share a port. Each worker keeps its own witnesses, ticks and
// presence, like collective-server processes without a shared store; their
// ticks fall on the same wall-clock instants, as collective-server's do.
// SIGTERM and SIGINT stop every worker. The primary prints one line with the
// workers' process ids, so a benchmark can measure them.
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';

const text = process.env.WS_PEER_WORKERS ?? '2';
const count = Number(text);
if (!Number.isInteger(count) || count < 1 || count > 64) {
  process.stderr.write(`ws-peer: invalid WS_PEER_WORKERS '${text}': expected an integer from 1 to 64\n`);
  process.exit(2);
}

cluster.schedulingPolicy = cluster.SCHED_NONE;
cluster.setupPrimary({ exec: fileURLToPath(new URL('./server.mjs', import.meta.url)) });

let stopping = false;
const workers = [];
for (let i = 0; i < count; i++) workers.push(cluster.fork());
process.stderr.write(`ws-peer: workers ${workers.map((worker) => worker.process.pid).join(',')}\n`);

cluster.on('exit', (worker, code, signal) => {
  if (!stopping) process.stderr.write(`ws-peer: worker ${worker.process.pid} exited (code ${code}, signal ${signal})\n`);
  if (Object.keys(cluster.workers).length === 0) process.exit(stopping ? 0 : 1);
});

function stop() {
  stopping = true;
  for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
