// Driven by Tributary.Interop.Tests (CrashRecoveryTests): a kafkajs producer that sends numbered messages in
// awaited batches (acks -1), one batch at a time, and prints each acknowledged range, so the test knows exactly
// which messages the broker promised to keep when it is killed.
// Usage: node produce-sequential.mjs BOOTSTRAP TOPIC PARTITIONS FIRST_SEQ BATCH_SIZE BATCH_COUNT_MAX
// Message n goes to partition n % PARTITIONS with key "k<n>" and the value valueOf(n) below.
// Prints one JSON line per batch: {"acked":[first,last],"partitions":[{"partition":p,"baseOffset":"o","errorCode":0}]}.
// Stops at the first failed send (no retries: a retried batch could land twice) with {"failed":[first,last],...}
// and exit code 3; after BATCH_COUNT_MAX batches prints {"done":next} and exits 0.
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, topic, partitionsText, firstText, batchText, countText] = process.argv.slice(2);
const partitions = Number(partitionsText);
const batchSize = Number(batchText);
const batchCountMax = Number(countText);
let seq = Number(firstText);
if (!bootstrap || !topic || !(partitions > 0) || !(seq >= 0) || !(batchSize > 0) || !(batchCountMax > 0)) {
  console.error('usage: node produce-sequential.mjs BOOTSTRAP TOPIC PARTITIONS FIRST_SEQ BATCH_SIZE BATCH_COUNT_MAX');
  process.exit(2);
}

// Must match CrashRecoveryTests.Value.
const valueOf = (n) => `value-${n}-${'x'.repeat(n % 61)}`;

const kafka = new Kafka({
  clientId: 'tributary-interop-sequential',
  brokers: [bootstrap],
  logLevel: logLevel.NOTHING,
  connectionTimeout: 3000,
  requestTimeout: 10000,
  retry: { retries: 0 },
});
const producer = kafka.producer({ allowAutoTopicCreation: true, retry: { retries: 0 } });
await producer.connect();

for (let b = 0; b < batchCountMax; b++) {
  const first = seq;
  const messages = [];
  for (let j = 0; j < batchSize; j++, seq++) {
    messages.push({ partition: seq % partitions, key: `k${seq}`, value: valueOf(seq) });
  }

  let metadata;
  try {
    metadata = await producer.send({ topic, acks: -1, messages });
  } catch (e) {
    console.log(JSON.stringify({ failed: [first, seq - 1], error: String(e && e.message) }));
    process.exit(3);
  }

  console.log(JSON.stringify({
    acked: [first, seq - 1],
    partitions: metadata.map((m) => ({ partition: m.partition, baseOffset: m.baseOffset, errorCode: m.errorCode })),
  }));
}

console.log(JSON.stringify({ done: seq }));
await producer.disconnect();
