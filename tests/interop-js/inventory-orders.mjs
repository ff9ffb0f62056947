// Driven by Tributary.Interop.Tests (InventoryExampleTests): feeds the `orders` topic of examples/inventory at a steady
// rate, so the inventory service is always mid-work when the test kills it.
// Usage: node inventory-orders.mjs BOOTSTRAP ORDERS_FILE PARTITIONS DURATION_MS
//   ORDERS_FILE holds one order JSON object per line ({"orderId":n,"sku":"A","quantity":q}); order n goes to
//   partition n % PARTITIONS, keyed by n, spread evenly over DURATION_MS. The producer is idempotent (not
//   transactional), so a retry cannot duplicate an order. Prints {"produced":N}; a failure prints {"error":"..."}
//   and exits 1.
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';

const [bootstrap, ordersFile, partitionsText, durationText] = process.argv.slice(2);
const partitions = Number(partitionsText);
const durationMs = Number(durationText);
const kafka = new Kafka({ clientId: 'inventory-orders', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  const orders = readFileSync(ordersFile, 'utf8').split('\n').filter((l) => l.length > 0);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const tickMs = 50;
  const ticks = Math.max(1, Math.floor(durationMs / tickMs));
  const perTick = Math.ceil(orders.length / ticks);
  const started = Date.now();
  for (let i = 0, tick = 0; i < orders.length; i += perTick, tick++) {
    const messages = orders.slice(i, i + perTick).map((value) => {
      const orderId = JSON.parse(value).orderId;
      return { partition: orderId % partitions, key: String(orderId), value };
    });
    await producer.send({ topic: 'orders', acks: -1, messages });
    const wait = started + (tick + 1) * tickMs - Date.now();
    if (wait > 0) {
      await sleep(wait);
    }
  }

  await producer.disconnect();
  console.log(JSON.stringify({ produced: orders.length }));
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ error: String(e?.stack ?? e) }));
  process.exit(1);
}
