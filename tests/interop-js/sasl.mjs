// Driven by Tributary.Interop.Tests (KafkaJsSaslTests, KafkaJsTlsTests): kafkajs over SASL_PLAINTEXT, SSL or SASL_SSL.
// Usage: node sasl.mjs BOOTSTRAP MECHANISM USER PASSWORD TOPIC [CA_PEM_FILE]
// Authenticates with the mechanism (plain, scram-sha-256, scram-sha-512; oauthbearer, with PASSWORD the token and
// USER unused; none: no SASL), over TLS trusting the authority in CA_PEM_FILE when it is given, produces three
// messages to TOPIC and consumes them back. Prints one JSON object: {"values": [...]}; on failure {"error": ..., "type": ..., "step": ...}
// and exit code 1.
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, mechanism, username, password, topic, caFile] = process.argv.slice(2);
if (!topic) {
  console.error('usage: node sasl.mjs BOOTSTRAP MECHANISM USER PASSWORD TOPIC [CA_PEM_FILE]');
  process.exit(2);
}

const kafka = new Kafka({
  clientId: 'tributary-interop-sasl',
  brokers: [bootstrap],
  sasl: mechanism === 'none' ? undefined
    : mechanism === 'oauthbearer' ? { mechanism, oauthBearerProvider: async () => ({ value: password }) }
    : { mechanism, username, password },
  ssl: caFile ? { ca: [readFileSync(caFile, 'utf8')] } : undefined,
  logLevel: logLevel.NOTHING,
  connectionTimeout: 5000,
  requestTimeout: 15000,
  retry: { retries: 0 },
});

let step = 'produce';
const producer = kafka.producer();
const consumer = kafka.consumer({ groupId: `sasl-${mechanism}` });
try {
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [1, 2, 3].map((i) => ({ value: `${mechanism}-${i}` })) });
  await producer.disconnect();

  step = 'consume';
  const values = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out consuming')), 30000);
    consumer.run({
      eachMessage: async ({ message }) => {
        values.push(message.value.toString());
        if (values.length === 3) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  console.log(JSON.stringify({ values }));
} catch (e) {
  console.log(JSON.stringify({ error: e.message, type: e.type ?? e.name, step }));
  await producer.disconnect().catch(() => {});
  await consumer.disconnect().catch(() => {});
  process.exit(1);
}
