// Driven by Tributary.Interop.Tests (KafkaJsConsumerGroupTests): a kafkajs consumer group under live traffic.
// Usage: node group-live.mjs BOOTSTRAP TOPIC GROUP COUNT DELIVERIES_FILE
// TOPIC must exist with 6 partitions. Three consumers (c1, c2, c3) join GROUP; a producer sends COUNT messages
// (value "m-<i>", key "k-<i>", acks -1) in batches as fast as it can, so the consumers have a backlog when the group
// changes. At a third of the way c2 disconnects and c4 joins; at half way the topic grows to 12 partitions (the
// consumers find out through their metadata refresh, metadataMaxAge 2 s; the producer waits out one refresh period
// so the rest of the messages spread over all 12).
// When every id has been consumed and the group's committed offsets reach the end of every partition, the consumers
// disconnect. Every delivery is written to DELIVERIES_FILE as "value partition offset consumer"; the last line of
// standard output is one JSON object (or {"error": ..., "step": ...} with exit code 1). kafkajs logs go to stderr.
import { writeFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, topic, groupId, countText, deliveriesFile] = process.argv.slice(2);
const count = Number(countText);
if (!bootstrap || !topic || !groupId || !(count > 0) || !deliveriesFile) {
  console.error('usage: node group-live.mjs BOOTSTRAP TOPIC GROUP COUNT DELIVERIES_FILE');
  process.exit(2);
}

// Bounds: the whole run, waiting for the last messages, waiting for the last commits.
const RUN_MS_MAX = 150_000;
const CATCH_UP_MS_MAX = 60_000;
const COMMITTED_MS_MAX = 30_000;
const BATCH_SIZE = 250;
const METADATA_MAX_AGE_MS = 2000;
const PARTITIONS_AFTER_GROWTH = 12;

const started = Date.now();
const elapsed = () => Date.now() - started;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const logCreator = () => ({ namespace, level, log }) => {
  process.stderr.write(`${new Date().toISOString()} ${namespace} ${log.message} ${JSON.stringify(log)}\n`);
};
const kafka = new Kafka({
  clientId: 'tributary-interop-group',
  brokers: [bootstrap],
  logLevel: logLevel.WARN,
  logCreator,
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
});

const deliveries = [];
const seen = new Set();
const joins = [];
const consumers = new Map();
let step = 'start';

async function startConsumer(name) {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10000,
    rebalanceTimeout: 15000,
    heartbeatInterval: 1000,
    metadataMaxAge: METADATA_MAX_AGE_MS,
    maxWaitTimeInMs: 250,
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joins.push({ consumer: name, atMs: elapsed(), isLeader: e.payload.isLeader, assignment: e.payload.memberAssignment[topic] ?? [] });
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommitInterval: 500,
    eachMessage: async ({ partition, message }) => {
      const value = message.value.toString();
      deliveries.push(`${value} ${partition} ${message.offset} ${name}`);
      seen.add(value);
    },
  });
  consumers.set(name, consumer);
}

async function waitUntil(what, limitMs, condition) {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    }
    await sleep(200);
  }
}

const runLimit = setTimeout(() => {
  console.log(JSON.stringify({ error: `still running after ${RUN_MS_MAX} ms`, step, consumed: seen.size }));
  process.exit(1);
}, RUN_MS_MAX);

const admin = kafka.admin();
const producer = kafka.producer({ allowAutoTopicCreation: false, metadataMaxAge: METADATA_MAX_AGE_MS });
const result = { events: [] };
try {
  step = 'connect';
  await admin.connect();
  await producer.connect();

  step = 'start consumers';
  for (const name of ['c1', 'c2', 'c3']) {
    await startConsumer(name);
  }

  step = 'produce';
  const produceStarted = Date.now();
  for (let sent = 0; sent < count; sent += BATCH_SIZE) {
    if (sent === Math.floor(count / 3 / BATCH_SIZE) * BATCH_SIZE) {
      step = 'c2 leaves, c4 joins';
      result.events.push({ event: 'c2 leaves', atMs: elapsed(), sent, consumed: seen.size });
      await consumers.get('c2').disconnect();
      consumers.delete('c2');
      await startConsumer('c4');
      result.events.push({ event: 'c4 joined', atMs: elapsed(), sent, consumed: seen.size });
      step = 'produce';
    }
    if (sent === Math.floor(count / 2 / BATCH_SIZE) * BATCH_SIZE) {
      step = 'createPartitions';
      await admin.createPartitions({ topicPartitions: [{ topic, count: PARTITIONS_AFTER_GROWTH }] });
      result.events.push({ event: `grew to ${PARTITIONS_AFTER_GROWTH} partitions`, atMs: elapsed(), sent, consumed: seen.size });
      await sleep(METADATA_MAX_AGE_MS + 500);
      step = 'produce';
    }
    const messages = [];
    for (let i = sent; i < Math.min(sent + BATCH_SIZE, count); i++) {
      messages.push({ key: `k-${i}`, value: `m-${i}` });
    }
    await producer.send({ topic, acks: -1, messages });
  }
  result.produceMs = Date.now() - produceStarted;
  result.events.push({ event: 'produced all', atMs: elapsed(), sent: count, consumed: seen.size });

  step = 'wait for every message';
  const catchUpStarted = Date.now();
  await waitUntil(`${count} distinct messages (have ${seen.size})`, CATCH_UP_MS_MAX, () => seen.size >= count);
  result.catchUpMs = Date.now() - catchUpStarted;

  step = 'wait for committed offsets to reach the end';
  const committedStarted = Date.now();
  await waitUntil('committed offsets = end offsets', COMMITTED_MS_MAX, async () => {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    result.ends = ends.map((o) => ({ partition: o.partition, offset: Number(o.high) })).sort((a, b) => a.partition - b.partition);
    result.committed = committed.partitions.map((p) => ({ partition: p.partition, offset: Number(p.offset) })).sort((a, b) => a.partition - b.partition);
    return result.ends.length === PARTITIONS_AFTER_GROWTH
      && result.ends.every((e) => result.committed.some((c) => c.partition === e.partition && c.offset === e.offset));
  });
  result.committedMs = Date.now() - committedStarted;

  // Each live consumer's latest assignment before any of them leaves: the group's final partition split.
  result.finalAssignments = Object.fromEntries([...consumers.keys()].map((name) => [name, joins.filter((j) => j.consumer === name).at(-1)?.assignment ?? []]));

  step = 'disconnect';
  for (const consumer of consumers.values()) {
    await consumer.disconnect();
  }
  result.joins = joins;
  result.deliveries = deliveries.length;
  result.distinct = seen.size;
} catch (e) {
  console.log(JSON.stringify({ error: String(e && e.message), name: e && e.name, step, consumed: seen.size, partial: result }));
  process.exitCode = 1;
} finally {
  writeFileSync(deliveriesFile, deliveries.join('\n') + '\n');
  await producer.disconnect();
  await admin.disconnect();
  clearTimeout(runLimit);
}

if (process.exitCode !== 1) {
  console.log(JSON.stringify(result));
}
// A consumer left running after a failure would keep the process alive until the test kills it.
process.exit(process.exitCode ?? 0);
