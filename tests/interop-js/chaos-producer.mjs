// Driven by Tributary.Interop.Tests (Chaos/KafkajsProducer.cs): a kafkajs idempotent acks=all producer that runs
// through the fault tests' faults, sending unique values ("NAME-SEQ") round-robin to its own partitions.
// Usage: node chaos-producer.mjs BOOTSTRAP TOPIC NAME PARTITIONS SENDS_MAX INTERVAL_MS
// PARTITIONS is a comma-separated list. Standard output has one JSON line per operation, in order:
// {"invoke":VALUE,"partition":P} just before a send, then {"ok":VALUE,"partition":P,"offset":"O"} or
// {"unknown":VALUE,"partition":P,"error":E}. It stops after SENDS_MAX sends or on SIGTERM (after the send in flight
// ends, printing {"done":N}). kafkajs logs (warnings and errors) go to standard error.
//
// One send at a time, on purpose: kafkajs takes a partition's sequence number when a request is built and gives it
// back when the request fails, so a second send waiting on the same broker could be built with the number of a
// failed request that the broker in fact wrote, and be taken for its duplicate. A failed send is "unknown": it may
// have been written before the error. Retries are unbounded (kafkajs's default for idempotence).
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, topic, name, partitionsText, sendsText, intervalText] = process.argv.slice(2);
const partitions = (partitionsText ?? '').split(',').filter((p) => p !== '').map(Number);
const sendsMax = Number(sendsText);
const intervalMs = Number(intervalText);
if (!bootstrap || !topic || !name || partitions.length === 0 || partitions.some((p) => !(p >= 0)) || !(sendsMax > 0) || !(intervalMs >= 0)) {
  console.error('usage: node chaos-producer.mjs BOOTSTRAP TOPIC NAME PARTITIONS SENDS_MAX INTERVAL_MS');
  process.exit(2);
}

const logCreator = () => ({ namespace, level, log }) => {
  process.stderr.write(`${new Date().toISOString()} ${level} ${namespace} ${log.message} ${JSON.stringify(log)}\n`);
};
const kafka = new Kafka({
  clientId: name,
  brokers: bootstrap.split(','),
  logLevel: logLevel.WARN,
  logCreator,
  connectionTimeout: 3000,
  requestTimeout: 5000,
  retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: Number.MAX_SAFE_INTEGER },
});
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  metadataMaxAge: 2000,
  retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: Number.MAX_SAFE_INTEGER },
});

let stopping = false;
process.on('SIGTERM', () => { stopping = true; });
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

await producer.connect();
let seq = 0;
for (; seq < sendsMax && !stopping; seq++) {
  const value = `${name}-${seq}`;
  const partition = partitions[seq % partitions.length];
  print({ invoke: value, partition });
  try {
    const [metadata] = await producer.send({ topic, acks: -1, messages: [{ partition, key: value, value }] });
    print({ ok: value, partition: metadata.partition, offset: metadata.baseOffset });
  } catch (e) {
    print({ unknown: value, partition, error: String(e && e.message) });
  }

  await sleep(intervalMs);
}

print({ done: seq });
await producer.disconnect();
