#!/usr/bin/env node
/**
 * `npm run start:batch`: the batch layer alone: archiving the log into the lake and running recompute jobs.
 * Layers in separate processes must share their stores, so this is for the real engines (Kafka,
 * Cassandra, S3, BullMQ; see docs/operations.md): embedded adapters belong to one process.
 */
import { runService } from '../services/run-service.js';
import { startBatchService } from '../services/batch-service.js';

await runService('batch layer', startBatchService);
