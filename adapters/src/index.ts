// The public API of @lambda/adapters: the production adapters of the ports, and openPorts. Anything not exported here is internal.

// Opening every port from config
export { openPorts, openSomePorts } from './open-ports.js';
export type { PortDependencies } from './port-dependencies.js';
// Lake on S3
export { S3Lake } from './s3/s3-lake.js';
export type { S3LakeOptions } from './s3/s3-lake.js';
// Event log on Kafka (kafkajs)
export { KafkaEventLog } from './kafka/kafka-event-log.js';
export type { KafkaEventLogOptions } from './kafka/kafka-event-log.js';
export { toPlatformError as kafkaErrorToPlatformError } from './kafka/kafka-errors.js';
// Port: view store on Cassandra
export { CassandraViewStore } from './cassandra/cassandra-view-store.js';
export type { CassandraConsistency, CassandraSerialConsistency, CassandraViewStoreOptions } from './cassandra/cassandra-view-store.js';
// Scheduler on BullMQ (Redis)
export { BullmqScheduler } from './bullmq/bullmq-scheduler.js';
export type { BullmqSchedulerOptions } from './bullmq/bullmq-scheduler.js';
export { openRedis, redactPassword } from './bullmq/redis-connection.js';
export type { RedisConnectionKind } from './bullmq/redis-connection.js';
// Task queues on BullMQ (Redis): the batch layer fans a recompute's partition queries out over one
export { BullmqTaskFanOut } from './bullmq/bullmq-task-fan-out.js';
export type { BullmqTaskFanOutOptions } from './bullmq/bullmq-task-fan-out.js';
export { BullmqTaskWorker } from './bullmq/bullmq-task-worker.js';
export type { BullmqTaskWorkerOptions } from './bullmq/bullmq-task-worker.js';
export type { BullmqTaskQueueConnection, TaskDescription } from './bullmq/bullmq-task-queue.js';
