#!/usr/bin/env node
/**
 * `npm run start:serving`: the serving layer alone: the REST API and the dashboard.
 * Layers in separate processes must share their stores, so this is for the real engines (Kafka,
 * Cassandra, S3, BullMQ; see docs/operations.md): embedded adapters belong to one process.
 */
import { runService } from '../services/run-service.js';
import { startServingService } from '../services/serving-service.js';

await runService('serving layer', startServingService);
