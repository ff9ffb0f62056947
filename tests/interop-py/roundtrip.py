# kafka-python (Debian's python3-kafka) against a Tributary broker: creates a topic, produces with acks=all,
# reads everything in a consumer group, commits, and reads the commits back from a second consumer.
# Prints one JSON line: {"read": N, "committed": N, "api_version": [..]}.
import json
import sys

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])

producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
for i in range(count):
    producer.send(topic, key=b"k%d" % (i % 5), value=b"v%d" % i)
producer.flush()
producer.close()

consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="py-group", auto_offset_reset="earliest",
                         enable_auto_commit=False, consumer_timeout_ms=15000)
seen = set()
for message in consumer:
    seen.add(message.value.decode())
    if len(seen) == count:
        break
consumer.commit()
consumer.close()

resumed = KafkaConsumer(bootstrap_servers=bootstrap, group_id="py-group", enable_auto_commit=False)
committed = sum(resumed.committed(TopicPartition(topic, p)) or 0 for p in range(2))
resumed.close()
print(json.dumps({"read": len(seen), "committed": committed, "api_version": list(admin.config["api_version"])}))
