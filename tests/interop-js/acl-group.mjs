// Driven by Tributary.Interop.Tests (KafkaJsAclTests): a kafkajs consumer group whose user holds READ on the group
// and the topic only (the broker's authorizer on, SASL_PLAINTEXT with SCRAM-SHA-256).
// Usage: node acl-group.mjs BOOTSTRAP USER PASSWORD TOPIC GROUP COUNT
// Consumes COUNT messages from the beginning in GROUP and commits them. Prints one JSON object: {"values": [...]};
// on failure {"error": ..., "type": ..., "logged": [...]} and exit code 1, where "logged" holds the errors kafkajs
// logged on the way (it reports a refused FindCoordinator as "coordinator not found", the cause only in its log).
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, username, password, topic, groupId, count] = process.argv.slice(2);
if (!count) {
  console.error('usage: node acl-group.mjs BOOTSTRAP USER PASSWORD TOPIC GROUP COUNT');
  process.exit(2);
}

const logged = [];
const logCreator = () => ({ log }) => {
  if (log.error) {
    logged.push(String(log.error.type ?? log.error));
  }
};

const kafka = new Kafka({
  clientId: 'tributary-interop-acl',
  brokers: [bootstrap],
  sasl: { mechanism: 'scram-sha-256', username, password },
  logLevel: logLevel.DEBUG,
  logCreator,
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 0 },
});

const consumer = kafka.consumer({ groupId, retry: { retries: 0 } });
try {
  const values = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out consuming')), 30000);
    consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
    consumer.run({
      eachMessage: async ({ message }) => {
        values.push(message.value.toString());
        if (values.length === Number(count)) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await consumer.commitOffsets([]).catch(() => {});
  await consumer.disconnect();
  console.log(JSON.stringify({ values }));
} catch (e) {
  console.log(JSON.stringify({ error: e.message, type: e.type ?? e.name, logged }));
  await consumer.disconnect().catch(() => {});
  process.exit(1);
}
