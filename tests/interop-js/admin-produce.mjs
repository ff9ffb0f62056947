// Driven by Tributary.Interop.Tests (KafkaJsAdminProduceTests): kafkajs admin and producer against a real broker.
// Usage: node admin-produce.mjs BOOTSTRAP TOPIC_PREFIX
// Creates PREFIX-orders (3 partitions) and PREFIX-doomed (2), reads metadata, produces 30 messages to
// PREFIX-orders with acks -1 and gzip, reads the topic offsets, deletes PREFIX-doomed. Prints one JSON object:
// what each call returned; on failure {"error": ..., "step": ...} and exit code 1.
import { Kafka, logLevel, CompressionTypes } from 'kafkajs';

const [bootstrap, prefix] = process.argv.slice(2);
if (!bootstrap || !prefix) {
  console.error('usage: node admin-produce.mjs BOOTSTRAP TOPIC_PREFIX');
  process.exit(2);
}

const kafka = new Kafka({
  clientId: 'tributary-interop-admin',
  brokers: [bootstrap],
  logLevel: logLevel.ERROR,
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 2, initialRetryTime: 100 },
});

const orders = `${prefix}-orders`;
const doomed = `${prefix}-doomed`;
const result = {};
let step = 'connect';
const admin = kafka.admin();
try {
  await admin.connect();

  step = 'createTopics';
  result.created = await admin.createTopics({
    waitForLeaders: true,
    timeout: 10000,
    topics: [
      { topic: orders, numPartitions: 3 },
      { topic: doomed, numPartitions: 2 },
    ],
  });

  step = 'createTopics (again)';
  result.createdAgain = await admin.createTopics({ waitForLeaders: true, topics: [{ topic: orders, numPartitions: 3 }] });

  step = 'listTopics';
  result.topicsAfterCreate = (await admin.listTopics()).sort();

  step = 'describeCluster';
  const cluster = await admin.describeCluster();
  result.cluster = { brokers: cluster.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })), controller: cluster.controller, clusterId: cluster.clusterId };

  step = 'fetchTopicMetadata';
  const metadata = await admin.fetchTopicMetadata({ topics: [orders, doomed] });
  result.metadata = metadata.topics
    .map((t) => ({
      name: t.name,
      partitions: t.partitions
        .map((p) => ({ partitionId: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr, errorCode: p.partitionErrorCode }))
        .sort((a, b) => a.partitionId - b.partitionId),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));

  step = 'produce';
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const messages = [];
  for (let i = 0; i < 30; i++) {
    messages.push({ partition: i % 3, key: `key-${i % 6}`, value: `value-${i}`, headers: { source: 'kafkajs', seq: String(i) } });
  }
  const produced = await producer.send({ topic: orders, acks: -1, compression: CompressionTypes.GZIP, messages });
  await producer.disconnect();
  result.produced = produced
    .map((r) => ({ topic: r.topicName, partition: r.partition, errorCode: r.errorCode, baseOffset: r.baseOffset }))
    .sort((a, b) => a.partition - b.partition);

  step = 'fetchTopicOffsets';
  result.offsets = (await admin.fetchTopicOffsets(orders))
    .map((o) => ({ partition: o.partition, low: o.low, high: o.high }))
    .sort((a, b) => a.partition - b.partition);

  step = 'deleteTopics';
  await admin.deleteTopics({ topics: [doomed], timeout: 10000 });

  step = 'listTopics (after delete)';
  result.topicsAfterDelete = (await admin.listTopics()).sort();
} catch (e) {
  console.log(JSON.stringify({ error: String(e && e.message), name: e && e.name, type: e && e.type, step, partial: result }));
  process.exitCode = 1;
} finally {
  await admin.disconnect();
}

if (process.exitCode !== 1) {
  console.log(JSON.stringify(result));
}
