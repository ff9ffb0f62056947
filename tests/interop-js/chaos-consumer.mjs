// Driven by Tributary.Interop.Tests (Chaos/KafkajsConsumer.cs): a kafkajs read_committed consumer-group member that
// runs through the fault tests' faults beside a Confluent.Kafka member of the same group.
// Usage: node chaos-consumer.mjs BOOTSTRAP TOPIC GROUP COMMIT_EVERY_READS
// Standard output has one JSON line per event, in order: {"read":VALUE,"partition":P,"offset":"O"} per record;
// every COMMIT_EVERY_READS reads {"commit":N,"offsets":[{"partition":P,"offset":"O"}]} before committing the next
// offset of each partition read since the last join, then {"committed":N} or {"commitUnknown":N,"error":E} (a
// failed commit may still have been applied). On SIGTERM it leaves the group and prints {"done":READS}. kafkajs logs
// (warnings and errors, and its crashes) go to standard error.
import { Kafka, logLevel, PartitionAssigners } from 'kafkajs';

const [bootstrap, topic, groupId, commitEveryText] = process.argv.slice(2);
const commitEveryReads = Number(commitEveryText);
if (!bootstrap || !topic || !groupId || !(commitEveryReads > 0)) {
  console.error('usage: node chaos-consumer.mjs BOOTSTRAP TOPIC GROUP COMMIT_EVERY_READS');
  process.exit(2);
}

const logCreator = () => ({ namespace, level, log }) => {
  process.stderr.write(`${new Date().toISOString()} ${level} ${namespace} ${log.message} ${JSON.stringify(log)}\n`);
};
const kafka = new Kafka({
  clientId: 'chaos-kafkajs-consumer',
  brokers: bootstrap.split(','),
  logLevel: logLevel.WARN,
  logCreator,
  connectionTimeout: 3000,
  requestTimeout: 10000,
  retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 30 },
});
// kafkajs's round-robin assigner under librdkafka's name for the same protocol ("roundrobin"): a group's members
// must share an assignor name, and kafkajs names its own "RoundRobinAssigner" (the Confluent.Kafka member of the
// group would get INCONSISTENT_GROUP_PROTOCOL). Both encode subscriptions and assignments as Kafka's consumer
// protocol version 0.
const roundRobin = (config) => ({ ...PartitionAssigners.roundRobin(config), name: 'roundrobin' });
const consumer = kafka.consumer({
  groupId,
  partitionAssigners: [roundRobin],
  sessionTimeout: 10000,
  rebalanceTimeout: 15000,
  heartbeatInterval: 1000,
  metadataMaxAge: 2000,
  maxWaitTimeInMs: 250,
  readUncommitted: false,
});

const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');

// The next offset of each partition this member has read since it last joined: what it owns now. kafkajs joins
// between fetches, so no record of an earlier generation is handled after the reset.
let positions = new Map();
consumer.on(consumer.events.GROUP_JOIN, () => { positions = new Map(); });
consumer.on(consumer.events.CRASH, (e) => {
  process.stderr.write(`${new Date().toISOString()} crash (restart ${e.payload.restart}): ${e.payload.error && e.payload.error.stack}\n`);
});

let reads = 0;
let commits = 0;
let stopping = false;
process.on('SIGTERM', async () => {
  if (stopping) return;
  stopping = true;
  await consumer.disconnect();
  print({ done: reads });
  process.exit(0);
});

await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({
  autoCommit: false,
  eachMessage: async ({ partition, message }) => {
    if (stopping) return;
    print({ read: message.value.toString(), partition, offset: message.offset });
    const next = BigInt(message.offset) + 1n;
    if (!(positions.get(partition) >= next)) {
      positions.set(partition, next);
    }

    if (++reads % commitEveryReads !== 0) return;
    const n = ++commits;
    const offsets = [...positions].map(([p, o]) => ({ partition: p, offset: o.toString() }));
    print({ commit: n, offsets });
    try {
      await consumer.commitOffsets(offsets.map((o) => ({ topic, ...o })));
      // Once the consumer is stopping, kafkajs resolves a commit the broker refused (its runner returns when not
      // running), so a commit that ends after SIGTERM is unknown.
      print(stopping ? { commitUnknown: n, error: 'ended while stopping' } : { committed: n });
    } catch (e) {
      print({ commitUnknown: n, error: String(e && e.message) });
    }
  },
});
