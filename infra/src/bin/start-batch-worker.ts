#!/usr/bin/env node
/**
 * `npm run start:batch-worker`: a batch worker alone, running the partition tasks of recomputes that the
 * batch layer fans out (RECOMPUTE_FAN_OUT=bullmq). Needs the shared engines: the BullMQ scheduler's Redis
 * and a lake every process reads (S3); see docs/operations.md.
 */
import { runService } from '../services/run-service.js';
import { startBatchWorkerService } from '../services/batch-worker-service.js';

await runService('batch worker', startBatchWorkerService);
