// The public API of @lambda/kafka-protocol. Anything not exported here is internal.

// Kafka wire protocol: the embedded event log served to Kafka clients
export { KafkaProtocolServer } from './kafka-protocol-server.js';
export type { KafkaProtocolServerOptions, RunningKafkaProtocolServer } from './kafka-protocol-server.js';
