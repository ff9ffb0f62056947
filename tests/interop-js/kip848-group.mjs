// A KIP-848 consumer group with a client that speaks only the new protocol: @platformatic/kafka with
// groupProtocol 'consumer' (ConsumerGroupHeartbeat, server-side assignment). Two members join, then this script
// produces COUNT messages and reads until every one has been seen or the time limit passes.
// Usage: node kip848-group.mjs BOOTSTRAP TOPIC GROUP COUNT
// Prints one JSON line: { produced, unique, members: [{ id, messages, partitions: [...] }] } or { error }.

// @platformatic/kafka uses Promise.withResolvers (Node 22+); Debian's and this machine's Node 20 lack it.
Promise.withResolvers ??= function () {
  let resolve, reject
  const promise = new Promise((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

const { Consumer, Producer, stringDeserializers, stringSerializers } = await import('@platformatic/kafka')
const [bootstrap, topic, group, countText] = process.argv.slice(2)
const count = Number(countText)
const timeLimitMs = 45_000
const deadline = Date.now() + timeLimitMs
const seen = new Set()
const members = []

try {
  for (const id of ['member-a', 'member-b']) {
    const consumer = new Consumer({ groupId: group, clientId: id, bootstrapBrokers: [bootstrap], deserializers: stringDeserializers, groupProtocol: 'consumer' })
    const stream = await consumer.consume({ autocommit: true, topics: [topic], mode: 'earliest', sessionTimeout: 10000, heartbeatInterval: 500 })
    const member = { id, consumer, stream, messages: 0, partitions: new Set() }
    stream.on('data', message => {
      member.messages++
      member.partitions.add(message.partition)
      seen.add(message.value)
    })
    members.push(member)
  }

  // Let both members converge on a shared assignment before there is anything to read.
  await new Promise(resolve => setTimeout(resolve, 4000))
  const producer = new Producer({ clientId: 'kip848-producer', bootstrapBrokers: [bootstrap], serializers: stringSerializers })
  for (let i = 0; i < count; i += 100) {
    const messages = []
    for (let j = i; j < Math.min(count, i + 100); j++) {
      messages.push({ topic, key: `k${j}`, value: `m${j}` })
    }
    await producer.send({ messages })
  }
  await producer.close()

  while (seen.size < count && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 100))
  }

  const result = { produced: count, unique: seen.size, members: members.map(m => ({ id: m.id, messages: m.messages, partitions: [...m.partitions].sort((a, b) => a - b) })) }
  for (const m of members) {
    await m.stream.close()
    await m.consumer.close()
  }
  console.log(JSON.stringify(result))
  process.exit(0)
} catch (error) {
  console.log(JSON.stringify({ error: String(error && error.stack || error) }))
  process.exit(1)
}
