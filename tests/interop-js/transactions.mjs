// Driven by Tributary.Interop.Tests (KafkaJsTransactionTests): kafkajs's transactional producer and read_committed
// consumer against the broker.
// Usage: node transactions.mjs BOOTSTRAP MODE TOPIC
//   commit-abort: transaction 1 sends c-0..4 + offsets (group tx-group, partition 0 -> 42) and commits; transaction 2
//                 sends a-0..4 and aborts; transaction 3 sends d-0..2 and commits. Then a read_committed consumer and
//                 a read_uncommitted consumer read the topic. Prints {"committed":[...],"uncommitted":[...],"offsets":[...]}.
//   hang:         commits before-0..2, then opens a transaction (timeout 3 s), sends open-0..2, prints {"open":true}
//                 and waits to be killed.
//   after:        commits after-0..2 with another transactional id, then a read_committed consumer reads the topic
//                 until it has EXPECTED messages. Prints {"committed":[...]}.
// Values are printed in partition order then offset order; a failure prints {"error":"..."} and exits 1.
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, mode, topic, expectedText] = process.argv.slice(2);
const kafka = new Kafka({
  clientId: 'tributary-interop-transactions',
  brokers: [bootstrap],
  logLevel: logLevel.NOTHING,
  retry: { retries: 8, initialRetryTime: 200 },
});

const messages = (prefix, count) => Array.from({ length: count }, (_, i) => ({ partition: i % 2, key: `${prefix}-${i}`, value: `${prefix}-${i}` }));

async function transactionalProducer(transactionalId, transactionTimeout = 30000) {
  const producer = kafka.producer({ transactionalId, maxInFlightRequests: 1, idempotent: true, transactionTimeout });
  await producer.connect();
  return producer;
}

async function inTransaction(producer, prefix, count, end, offsets) {
  const transaction = await producer.transaction();
  await transaction.send({ topic, acks: -1, messages: messages(prefix, count) });
  if (offsets) {
    await transaction.sendOffsets(offsets);
  }

  await (end === 'commit' ? transaction.commit() : transaction.abort());
}

async function consume(groupId, readUncommitted, expected, timeoutMs = 30000) {
  const consumer = kafka.consumer({ groupId, readUncommitted, sessionTimeout: 10000, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = [];
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push({ partition, offset: Number(message.offset), value: message.value.toString() });
        if (seen.length >= expected) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  // Give a consumer that would see too much a moment to show it.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await consumer.disconnect();
  seen.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  return seen.map((m) => m.value);
}

try {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  if (mode === 'commit-abort') {
    const producer = await transactionalProducer('tx-interop');
    await inTransaction(producer, 'c', 5, 'commit', { consumerGroupId: 'tx-group', topics: [{ topic, partitions: [{ partition: 0, offset: '42' }] }] });
    await inTransaction(producer, 'a', 5, 'abort');
    await inTransaction(producer, 'd', 3, 'commit');
    await producer.disconnect();
    const committed = await consume('reader-committed', false, 8);
    const uncommitted = await consume('reader-uncommitted', true, 13);
    const offsets = await admin.fetchOffsets({ groupId: 'tx-group', topics: [topic] });
    console.log(JSON.stringify({ committed, uncommitted, offsets: offsets[0].partitions }));
  } else if (mode === 'hang') {
    const producer = await transactionalProducer('tx-hang', 3000);
    await inTransaction(producer, 'before', 3, 'commit');
    const transaction = await producer.transaction();
    await transaction.send({ topic, acks: -1, messages: messages('open', 3) });
    console.log(JSON.stringify({ open: true }));
    await new Promise(() => {});
  } else if (mode === 'after') {
    const producer = await transactionalProducer('tx-after');
    await inTransaction(producer, 'after', 3, 'commit');
    await producer.disconnect();
    const committed = await consume('reader-after', false, Number(expectedText), 60000);
    console.log(JSON.stringify({ committed }));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }

  await admin.disconnect();
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ error: String(e?.stack ?? e) }));
  process.exit(1);
}
