#!/usr/bin/env node
/**
 * `npm run start:speed`: the speed layer alone: micro-batches from the log into real-time view slices.
 * Layers in separate processes must share their stores, so this is for the real engines (Kafka,
 * Cassandra, S3, BullMQ; see docs/operations.md): embedded adapters belong to one process.
 */
import { runService } from '../services/run-service.js';
import { startSpeedService } from '../services/speed-service.js';

await runService('speed layer', startSpeedService);
