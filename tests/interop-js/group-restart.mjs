// Driven by Tributary.Interop.Tests (KafkaJsGroupRestartTests): kafkajs consumers in one group that outlive broker
// restarts and may be killed mid-run.
// Usage: node group-restart.mjs BOOTSTRAP TOPIC GROUP MEMBERS DELIVERIES_FILE UNTIL_TOTAL [PACE]
// MEMBERS consumers join GROUP (new groups start from the earliest offset) and append every delivery to
// DELIVERIES_FILE as "value partition offset consumer", synchronously and before the offset is resolved (so before
// kafkajs may commit it): a SIGKILL cannot lose a delivery whose offset was committed. With PACE = "paced" each
// consumer handles about 2,000 messages a second (25 ms pause every 50), so a test can act while they are mid-way. Standard output gets "progress N" (deliveries so far)
// every 250 ms. With UNTIL_TOTAL > 0 the script stops once the topic's end offsets add up to UNTIL_TOTAL and the
// group's committed offsets equal them, and prints one JSON object; with 0 it runs until killed (or its time limit).
import { appendFileSync, writeFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, topic, groupId, membersText, deliveriesFile, untilText, pace] = process.argv.slice(2);
const members = Number(membersText);
const untilTotal = Number(untilText);
if (!bootstrap || !topic || !groupId || !(members > 0) || !deliveriesFile || !(untilTotal >= 0)) {
  console.error('usage: node group-restart.mjs BOOTSTRAP TOPIC GROUP MEMBERS DELIVERIES_FILE UNTIL_TOTAL');
  process.exit(2);
}

const RUN_MS_MAX = 120_000;
const PROGRESS_INTERVAL_MS = 250;
const CHUNK_SIZE = 50;
const CHUNK_PAUSE_MS = pace === 'paced' ? 25 : 0;

const started = Date.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const logCreator = () => ({ namespace, log }) => {
  process.stderr.write(`${new Date().toISOString()} ${namespace} ${log.message} ${JSON.stringify(log)}\n`);
};
const kafka = new Kafka({
  clientId: 'tributary-interop-restart',
  brokers: [bootstrap],
  logLevel: logLevel.WARN,
  logCreator,
  connectionTimeout: 3000,
  requestTimeout: 10000,
  // A restart refuses connections for a few seconds: keep retrying for longer than that.
  retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 2000 },
});

let delivered = 0;
let crashes = 0;
const joins = [];
const consumers = [];
let step = 'start';

writeFileSync(deliveriesFile, '');
const runLimit = setTimeout(() => {
  console.log(JSON.stringify({ error: `still running after ${RUN_MS_MAX} ms`, step, delivered }));
  process.exit(1);
}, RUN_MS_MAX);
const progress = setInterval(() => console.log(`progress ${delivered}`), PROGRESS_INTERVAL_MS);

const admin = kafka.admin();
const result = {};
try {
  step = 'start consumers';
  await admin.connect();
  for (let m = 1; m <= members; m++) {
    const name = `c${m}`;
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, rebalanceTimeout: 15000, heartbeatInterval: 1000, maxWaitTimeInMs: 250 });
    consumer.on(consumer.events.GROUP_JOIN, (e) => joins.push({ consumer: name, atMs: Date.now() - started, assignment: e.payload.memberAssignment[topic] ?? [] }));
    consumer.on(consumer.events.CRASH, () => crashes++);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommitInterval: 500,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
        for (let i = 0; i < batch.messages.length && isRunning() && !isStale(); i += CHUNK_SIZE) {
          const chunk = batch.messages.slice(i, i + CHUNK_SIZE);
          appendFileSync(deliveriesFile, chunk.map((m) => `${m.value.toString()} ${batch.partition} ${m.offset} ${name}\n`).join(''));
          delivered += chunk.length;
          resolveOffset(chunk.at(-1).offset);
          await commitOffsetsIfNecessary();
          await heartbeat();
          if (CHUNK_PAUSE_MS > 0) {
            await sleep(CHUNK_PAUSE_MS);
          }
        }
      },
    });
    consumers.push(consumer);
  }

  if (untilTotal > 0) {
    step = 'wait until the group has committed everything';
    for (;;) {
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const total = ends.reduce((sum, e) => sum + Number(e.high), 0);
      const caughtUp = ends.every((e) => committed.partitions.some((c) => c.partition === e.partition && Number(c.offset) === Number(e.high)));
      if (total === untilTotal && caughtUp) {
        result.committed = committed.partitions.map((p) => ({ partition: p.partition, offset: Number(p.offset) })).sort((a, b) => a.partition - b.partition);
        break;
      }
      await sleep(250);
    }

    step = 'disconnect';
    for (const consumer of consumers) {
      await consumer.disconnect();
    }
    result.delivered = delivered;
    result.crashes = crashes;
    result.joins = joins;
    result.elapsedMs = Date.now() - started;
  } else {
    step = 'run until killed';
    await sleep(RUN_MS_MAX);
  }
} catch (e) {
  console.log(JSON.stringify({ error: String(e && e.message), name: e && e.name, step, delivered }));
  process.exitCode = 1;
} finally {
  clearInterval(progress);
  clearTimeout(runLimit);
  await admin.disconnect();
}

if (process.exitCode !== 1) {
  console.log(JSON.stringify(result));
}
process.exit(process.exitCode ?? 0);
