// A KIP-848 consumer group (@platformatic/kafka, groupProtocol 'consumer') across a broker restart. Two members join
// and read COUNT messages; the script prints {"phase":"restart-now",...} and waits for GO_FILE, which the test creates
// once it has restarted the broker; then it produces COUNT more and reads until all 2 × COUNT were seen.
// Usage: node kip848-restart.mjs BOOTSTRAP TOPIC GROUP COUNT GO_FILE
// Prints the phase line, then one JSON line: { produced, unique, errors, members: [{ id, memberIdBefore, memberIdAfter,
// messagesAfter, partitionsAfter }] } or { error }.

// @platformatic/kafka uses Promise.withResolvers (Node 22+); Debian's and this machine's Node 20 lack it.
Promise.withResolvers ??= function () {
  let resolve, reject
  const promise = new Promise((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

const { existsSync } = await import('node:fs')
const { Consumer, Producer, stringDeserializers, stringSerializers } = await import('@platformatic/kafka')
const [bootstrap, topic, group, countText, goFile] = process.argv.slice(2)
const count = Number(countText)
const seen = new Set()
const members = []
const errors = []
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function until (condition, limitMs, what) {
  const deadline = Date.now() + limitMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

async function produce (from, to) {
  const producer = new Producer({ clientId: 'kip848-restart-producer', bootstrapBrokers: [bootstrap], serializers: stringSerializers, retries: 10 })
  for (let i = from; i < to; i += 100) {
    const messages = []
    for (let j = i; j < Math.min(to, i + 100); j++) {
      messages.push({ topic, key: `k${j}`, value: `m${j}` })
    }
    await producer.send({ messages })
  }
  await producer.close()
}

try {
  for (const id of ['member-a', 'member-b']) {
    const consumer = new Consumer({ groupId: group, clientId: id, bootstrapBrokers: [bootstrap], deserializers: stringDeserializers, groupProtocol: 'consumer', retries: 10 })
    const stream = await consumer.consume({ autocommit: true, topics: [topic], mode: 'earliest', sessionTimeout: 10000, heartbeatInterval: 500 })
    const member = { id, consumer, stream, restarted: false, messagesAfter: 0, partitionsAfter: new Set() }
    stream.on('data', message => {
      seen.add(message.value)
      if (member.restarted) {
        member.messagesAfter++
        member.partitionsAfter.add(message.partition)
      }
    })
    stream.on('error', error => errors.push(`${id}: ${error && error.message}`))
    members.push(member)
  }

  // Let both members converge on a shared assignment, then read the first half.
  await sleep(4000)
  await produce(0, count)
  await until(() => seen.size >= count, 45_000, `the first ${count} messages`)
  const before = members.map(m => ({ id: m.id, memberId: m.consumer.memberId }))
  console.log(JSON.stringify({ phase: 'restart-now', seen: seen.size, members: before }))

  await until(() => existsSync(goFile), 60_000, 'the broker restart')
  for (const m of members) m.restarted = true
  await produce(count, 2 * count)
  await until(() => seen.size >= 2 * count, 60_000, `all ${2 * count} messages`)

  const result = {
    produced: 2 * count,
    unique: seen.size,
    errors,
    members: members.map((m, i) => ({ id: m.id, memberIdBefore: before[i].memberId, memberIdAfter: m.consumer.memberId, messagesAfter: m.messagesAfter, partitionsAfter: [...m.partitionsAfter].sort((a, b) => a - b) }))
  }
  for (const m of members) {
    await m.stream.close()
    await m.consumer.close()
  }
  console.log(JSON.stringify(result))
  process.exit(0)
} catch (error) {
  console.log(JSON.stringify({ error: String(error && error.stack || error), errors, unique: seen.size }))
  process.exit(1)
}
