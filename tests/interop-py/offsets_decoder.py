# An independent reader of __consumer_offsets: kafka-python (Debian's python3-kafka) fetches the topic over the wire
# and every record is decoded by hand with struct, from Kafka's documented layout of its coordinator records (Apache
# Kafka's OffsetCommitKey/Value and GroupMetadataKey/Value schemas), not with Tributary's code. Keys start with an
# int16 record type, values with an int16 version; strings are int16 length + UTF-8 (-1 = null), bytes int32 length.
# kafka-python 2.0.2 hands over the records of control batches too: a transaction marker (key int16 version + int16
# type 0 abort / 1 commit, value int16 version + int32 coordinator epoch) is counted, not decoded as a group record.
# Prints one JSON line: {"offsets": [...], "groups": [...], "other": N, "markers": {"commit": N, "abort": N}} with
# the latest record per key.
import json
import struct
import sys

from kafka import KafkaConsumer, TopicPartition

bootstrap = sys.argv[1]
TOPIC = "__consumer_offsets"


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def int16(self):
        return self.take(">h")

    def int32(self):
        return self.take(">i")

    def int64(self):
        return self.take(">q")

    def uvarint(self):
        shift, value = 0, 0
        while True:
            b = self.data[self.pos]
            self.pos += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7

    def string(self, compact=False):
        n = self.uvarint() - 1 if compact else self.int16()
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def bytes(self):
        n = self.int32()
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b


def offset_value(value):
    # OffsetCommitValue: v0 offset, metadata, commit ts; v1 adds expire ts; v2 as v0; v3 adds leader epoch after the
    # offset; v4 is v3 in the flexible encoding (compact metadata, tagged fields).
    r = Reader(value)
    version = r.int16()
    offset = r.int64()
    epoch = r.int32() if version >= 3 else -1
    metadata = r.string(compact=version >= 4)
    commit_ts = r.int64()
    return {"version": version, "offset": offset, "leader_epoch": epoch, "metadata": metadata, "commit_timestamp": commit_ts}


def group_value(value):
    # GroupMetadataValue v0-v3 (non-flexible): protocol type, generation, protocol, leader, state timestamp (v2+),
    # members: member id, instance id (v3+), client id, host, rebalance timeout (v1+), session timeout, subscription,
    # assignment.
    r = Reader(value)
    version = r.int16()
    if version > 3:
        return {"version": version}
    group = {"version": version, "protocol_type": r.string(), "generation": r.int32(), "protocol": r.string(),
             "leader": r.string()}
    if version >= 2:
        group["state_timestamp"] = r.int64()
    members = []
    for _ in range(r.int32()):
        member = {"member_id": r.string()}
        member["instance_id"] = r.string() if version >= 3 else None
        member["client_id"] = r.string()
        member["client_host"] = r.string()
        member["rebalance_timeout"] = r.int32() if version >= 1 else -1
        member["session_timeout"] = r.int32()
        member["subscription_bytes"] = len(r.bytes())
        member["assignment_bytes"] = len(r.bytes())
        members.append(member)
    group["members"] = members
    return group


partition = TopicPartition(TOPIC, 0)
consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
consumer.assign([partition])
consumer.seek_to_beginning(partition)
end = consumer.end_offsets([partition])[partition]

latest = {}
other = 0
markers = {"commit": 0, "abort": 0}
while consumer.position(partition) < end:
    for records in consumer.poll(timeout_ms=2000).values():
        for record in records:
            if len(record.key) == 4 and record.value is not None and len(record.value) == 6:
                markers["commit" if struct.unpack_from(">h", record.key, 2)[0] == 1 else "abort"] += 1
                continue
            key = Reader(record.key)
            record_type = key.int16()
            if record_type in (0, 1):
                k = ("offset", key.string(), key.string(), key.int32())
            elif record_type == 2:
                k = ("group", key.string())
            else:
                other += 1
                continue
            latest[k] = record.value
consumer.close()

offsets, groups = [], []
for k, value in latest.items():
    if value is None:
        continue
    if k[0] == "offset":
        offsets.append(dict(group=k[1], topic=k[2], partition=k[3], **offset_value(value)))
    else:
        groups.append(dict(group=k[1], **group_value(value)))
print(json.dumps({"offsets": offsets, "groups": groups, "other": other, "markers": markers}))
