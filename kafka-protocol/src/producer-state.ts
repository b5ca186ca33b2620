/**
 * The idempotent producer's state, in memory: producer ids handed out by InitProducerId and, per
 * producer and partition, the last batches appended, so a retried batch is answered with its first
 * offsets instead of being appended twice (Kafka keeps the last five batches the same way).
 */
import { ErrorCode, type ErrorCodeValue } from './error-codes.js';

/** Kafka's max.in.flight.requests.per.connection bound for idempotence. */
const REMEMBERED_BATCHES = 5;

interface AppendedBatch {
  baseSequence: number;
  lastSequence: number;
  baseOffset: number;
}

interface PartitionProducerState {
  epoch: number;
  batches: AppendedBatch[];
}

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; baseOffset: number }
  | { kind: 'error'; errorCode: ErrorCodeValue; message: string };

export class ProducerState {
  /** Seeded from the clock so ids from before a restart are not handed out again. */
  private nextProducerId = Date.now();
  private readonly partitions = new Map<string, PartitionProducerState>();
  /** Serializes check-then-append per partition, so two copies of a batch cannot both pass the check. */
  private readonly locks = new Map<string, Promise<unknown>>();

  allocateProducerId(): { producerId: number; producerEpoch: number } {
    return { producerId: this.nextProducerId++, producerEpoch: 0 };
  }

  /** Runs `task` alone for this partition: the sequence check and the append it guards. */
  async exclusive<T>(topic: string, partition: number, task: () => Promise<T>): Promise<T> {
    const key = `${topic}\0${partition}`;
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.catch(() => undefined);
    this.locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    }
  }

  check(topic: string, partition: number, producerId: number, epoch: number, baseSequence: number, recordCount: number): SequenceCheck {
    const state = this.partitions.get(stateKey(topic, partition, producerId));
    const lastSequence = baseSequence + recordCount - 1;
    // A producer new to this partition (or to this server since a restart) starts wherever it is.
    if (state === undefined) return { kind: 'append' };
    if (epoch < state.epoch) return { kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: `Producer epoch ${epoch} is older than ${state.epoch}` };
    if (epoch > state.epoch) return { kind: 'append' };
    const duplicate = state.batches.find((batch) => batch.baseSequence === baseSequence && batch.lastSequence === lastSequence);
    if (duplicate) return { kind: 'duplicate', baseOffset: duplicate.baseOffset };
    const last = state.batches[state.batches.length - 1]!;
    if (baseSequence !== (last.lastSequence + 1) % 2 ** 31) {
      return {
        kind: 'error',
        errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `Expected sequence ${last.lastSequence + 1}, got ${baseSequence}`,
      };
    }
    return { kind: 'append' };
  }

  recordAppend(topic: string, partition: number, producerId: number, epoch: number, baseSequence: number, recordCount: number, baseOffset: number): void {
    const key = stateKey(topic, partition, producerId);
    let state = this.partitions.get(key);
    if (state === undefined || state.epoch !== epoch) {
      state = { epoch, batches: [] };
      this.partitions.set(key, state);
    }
    state.batches.push({ baseSequence, lastSequence: baseSequence + recordCount - 1, baseOffset });
    if (state.batches.length > REMEMBERED_BATCHES) state.batches.shift();
  }
}

function stateKey(topic: string, partition: number, producerId: number): string {
  return `${topic}\0${partition}\0${producerId}`;
}
