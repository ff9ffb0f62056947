using System.Text;
using Tributary.Broker.InternalTopics;
using Tributary.Protocol;
using Tributary.Protocol.Records;

namespace Tributary.Broker.Tests;

/// <summary>
/// Broker tier: the replay that loads every internal topic's state (__consumer_offsets, __transaction_state) reads
/// compressed batches, leaves out records below the log start offset and counts what it cannot use.
/// </summary>
public sealed class InternalTopicTests
{
    [Fact]
    public void Replay_decompresses_filters_below_the_log_start_and_counts_skipped_records()
    {
        using var broker = new TestBroker();
        var undecodable = new List<long>();
        var topic = new InternalTopic(broker.Core, "__transaction_state", () => { }, (_, offset) => undecodable.Add(offset));
        Assert.Equal(0, topic.Replay(0, (_, _) => throw new InvalidOperationException("there is no log yet"), NoLegacy));

        topic.Append(0, [(Bytes("a"), Bytes("1")), (Bytes("b"), Bytes("2"))]);
        var log = broker.Core.FindLog(broker.Topic("__transaction_state"), 0)!;
        log.DeleteRecordsBefore(1);
        log.Append(new RecordBatchBuilder { Compression = CompressionType.Gzip }
            .Add(0, Bytes("c"), Bytes("3"))
            .Add(0, Bytes("corrupt"), Bytes("x"))
            .Add(0, null, Bytes("keyless"))
            .Build());
        topic.Append(0, [(Bytes("d"), null)]);

        var seen = new List<(string Key, string? Value)>();
        var skipped = topic.Replay(0, (key, value) =>
        {
            var name = Encoding.UTF8.GetString(key.Span);
            if (name == "corrupt")
            {
                throw new ProtocolException("not a record of this topic");
            }

            seen.Add((name, value is { } v ? Encoding.UTF8.GetString(v.Span) : null));
            return true;
        }, NoLegacy);

        Assert.Equal([("b", "2"), ("c", "3"), ("d", null)], seen);
        Assert.Equal(2, skipped);
        Assert.Equal([3L], undecodable);
    }

    // In memory every record is in Kafka's format: nothing goes to the legacy decoder.
    private static bool NoLegacy(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value) => throw new InvalidOperationException("a record in memory is in the old layout");

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
