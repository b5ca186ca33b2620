import { describe, expect, it } from 'vitest';
import { Metrics, createLogger } from '../src/index.js';

describe('createLogger', () => {
  it('should write one JSON object per line, with the namespace of a child', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', format: 'json', destination: { write: (line: string) => lines.push(line) } });
    logger.child({ ns: 'speed-layer' }).info({ partition: 3 }, 'micro-batch done');
    logger.debug('below the level');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, ns: 'speed-layer', partition: 3, msg: 'micro-batch done' });
  });

  it('should print the namespace in front of the message in pretty format', () => {
    const lines: string[] = [];
    const logger = createLogger({ format: 'pretty', destination: { write: (line: string) => lines.push(line) } });
    logger.child({ ns: 'batch-layer' }).warn('horizon not reached');
    expect(lines.join('')).toContain('[batch-layer] horizon not reached');
  });
});

describe('Metrics', () => {
  it('should render registered metrics in Prometheus text format', async () => {
    const metrics = new Metrics();
    metrics.counter({ name: 'lambda_test_events_total', help: 'Events seen', labelNames: ['topic'] }).inc({ topic: 'clicks' }, 3);
    metrics.histogram({ name: 'lambda_test_seconds', help: 'Durations', buckets: [0.1, 1] }).observe(0.5);
    const text = await metrics.render();
    expect(text).toContain('# TYPE lambda_test_events_total counter');
    expect(text).toContain('lambda_test_events_total{topic="clicks"} 3');
    expect(text).toContain('lambda_test_seconds_bucket{le="1"} 1');
    expect(metrics.contentType).toMatch(/^text\/plain/);
  });

  it('should hand back the existing metric when asked for a name twice', () => {
    const metrics = new Metrics();
    const first = metrics.counter({ name: 'lambda_test_shared_total', help: 'x' });
    const second = metrics.counter({ name: 'lambda_test_shared_total', help: 'x' });
    expect(second).toBe(first);
  });

  it('should keep two registries apart', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.gauge({ name: 'lambda_test_gauge', help: 'g' }).set(1);
    b.gauge({ name: 'lambda_test_gauge', help: 'g' }).set(2);
    expect(await a.render()).toContain('lambda_test_gauge 1');
    expect(await b.render()).toContain('lambda_test_gauge 2');
  });
});
