// Inventory service: a consume-transform-produce loop with exactly-once semantics on a Kafka-compatible broker.
//
// Reads orders ({"orderId":n,"sku":"A","quantity":q}) from the `orders` topic in consumer group `inventory` and, for
// every order, writes a stock decrement ({"orderId":n,"sku":"A","delta":-q}) to `stock-changes`. Each fetched batch is
// handled in ONE transaction holding both the decrements and the consumed offsets (sendOffsets), so a batch is either
// wholly processed (records visible to read_committed readers and offsets committed) or not at all.
//
// The transactional id is fixed: a restarted instance calls InitProducerId with it, which aborts whatever transaction
// the previous (crashed) instance left open and fences that instance off. The service is crash-only: any error ends
// the process (exit 1) and a supervisor restarts it; it resumes from the last committed offsets.
//
// Usage: node inventory-service.mjs [BOOTSTRAP]   (default 127.0.0.1:9092; also INVENTORY_BOOTSTRAP)
// Optional environment: INVENTORY_TRANSACTION_TIMEOUT_MS (default 10000), INVENTORY_SESSION_TIMEOUT_MS (default 6000),
// INVENTORY_MAX_BYTES_PER_PARTITION (fetch size per partition, so per transaction; default 1048576).
// Output: one JSON line per committed batch: {"committed":{"partition":p,"next":o,"orders":k}}.
import { createRequire } from 'node:module';

// kafkajs is installed once for the repository's interop tests; resolve it from there unless NODE_PATH provides it.
const require = createRequire(new URL('../../tests/interop-js/package.json', import.meta.url));
const { Kafka, logLevel } = require('kafkajs');

const bootstrap = process.argv[2] ?? process.env.INVENTORY_BOOTSTRAP ?? '127.0.0.1:9092';
const transactionTimeout = Number(process.env.INVENTORY_TRANSACTION_TIMEOUT_MS ?? 10000);
const sessionTimeout = Number(process.env.INVENTORY_SESSION_TIMEOUT_MS ?? 6000);
const maxBytesPerPartition = Number(process.env.INVENTORY_MAX_BYTES_PER_PARTITION ?? 1048576);
const ordersTopic = 'orders';
const stockTopic = 'stock-changes';
const groupId = 'inventory';

const kafka = new Kafka({
  clientId: 'inventory-service',
  brokers: [bootstrap],
  logLevel: logLevel.NOTHING,
  retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 },
});

function crash(reason) {
  console.error(`inventory-service: ${reason?.stack ?? reason}`);
  process.exit(1);
}

process.on('unhandledRejection', crash);
process.on('uncaughtException', crash);

const producer = kafka.producer({ transactionalId: 'inventory-service', idempotent: true, maxInFlightRequests: 1, transactionTimeout });
const consumer = kafka.consumer({
  groupId,
  readUncommitted: false,
  sessionTimeout,
  rebalanceTimeout: sessionTimeout,
  heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 6)),
  maxBytesPerPartition,
});
consumer.on(consumer.events.CRASH, ({ payload }) => crash(payload.error));

const decrement = (message) => {
  const order = JSON.parse(message.value.toString());
  return {
    key: String(order.orderId),
    value: JSON.stringify({ orderId: order.orderId, sku: order.sku, delta: -order.quantity }),
  };
};

// Fencing first: InitProducerId aborts a transaction left open by a killed predecessor before we read any offsets.
await producer.connect();
await consumer.connect();
await consumer.subscribe({ topic: ordersTopic, fromBeginning: true });
await consumer.run({
  autoCommit: false,
  eachBatchAutoResolve: false,
  eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
    if (batch.messages.length === 0 || !isRunning() || isStale()) {
      return;
    }

    const transaction = await producer.transaction();
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    try {
      await transaction.send({ topic: stockTopic, acks: -1, messages: batch.messages.map(decrement) });
      await transaction.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
      await transaction.commit();
    } catch (e) {
      await transaction.abort().catch(() => {});
      crash(e);
    }

    resolveOffset(batch.lastOffset());
    console.log(JSON.stringify({ committed: { partition: batch.partition, next: Number(next), orders: batch.messages.length } }));
    await heartbeat();
  },
});
console.log(JSON.stringify({ running: true }));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    process.exit(0);
  });
}
