/**
 * Figure 4's load generator when wrk is not installed (see load.ts): autocannon against one target for a
 * while, then one line of JSON on stdout.
 *
 *   node --import tsx bench/autocannon-child.ts '{"url":"http://127.0.0.1:1234","paths":["/constant"],"connections":32,"seconds":3}'
 */
import autocannon from 'autocannon';
import type { LoadOptions, LoadResult } from './load.js';

const options = JSON.parse(process.argv[2] ?? '') as LoadOptions;
const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.seconds,
  requests: options.paths.map((path) => ({ method: 'GET', path })),
});
const report: LoadResult = {
  requestsPerSecond: result.requests.average,
  requests: result.requests.total,
  p50: result.latency.p50,
  p99: result.latency.p99,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
