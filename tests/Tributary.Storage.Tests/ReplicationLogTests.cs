using System.Buffers.Binary;
using System.Text;
using Tributary.Protocol.Records;
using static Tributary.Storage.Tests.RecordBatchBuilder;

namespace Tributary.Storage.Tests;

/// <summary>
/// What replication asks of a log: a follower's append that keeps the leader's offsets and epochs, a high watermark
/// the replica manager moves, Kafka's leader-epoch checkpoint, and truncation of a diverged tail.
/// </summary>
public sealed class ReplicationLogTests
{
    private const string Topic = "replicated";

    [Theory]
    [InlineData(DeviceKind.Memory)]
    [InlineData(DeviceKind.File)]
    public void A_followers_append_keeps_the_leaders_offsets_and_epochs_and_the_checkpoint_is_kafkas_text(DeviceKind kind)
    {
        using var target = new StorageTarget(kind);
        using (var manager = target.Open())
        {
            var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
            log.BecomeFollower();
            var batches = Concat(Batch("a", 2, baseOffset: 0, epoch: 0), Batch("b", 3, baseOffset: 2, epoch: 0), Batch("c", 1, baseOffset: 5, epoch: 4));

            log.AppendReplicated(batches.ToArray());

            Assert.Equal(6, log.LogEndOffset);
            Assert.Equal(0, log.HighWatermark);
            Assert.True(log.AdvanceHighWatermark(5));
            Assert.False(log.AdvanceHighWatermark(4));
            Assert.Equal(5, log.HighWatermark);
            Assert.Equal(batches, log.Read(0, new LogReadOptions(1 << 20) { UpToLogEnd = true }).Records.ToArray());
            Assert.Equal("0\n2\n0 0\n4 5\n", Encoding.ASCII.GetString(target.ReadFile(Path.Combine(target.PartitionDirectory(Topic, 0), LeaderEpochCache.FileName))));

            // Offsets must continue the log: a gap or an overlap is refused and nothing is appended.
            Assert.Throws<InvalidDataException>(() => log.AppendReplicated(Batch("d", 1, baseOffset: 7, epoch: 4)));
            Assert.Equal(6, log.LogEndOffset);

            // A follower takes no client appends.
            Assert.Throws<NotLeaderException>(() => log.Append(Build("e", 1)));
        }

        using (var reopened = target.Open())
        {
            var log = reopened.GetOrCreate(Topic, 0, LogConfig.Default);
            Assert.Equal([new(0, 0), new(4, 5)], log.LeaderEpochs.Entries);
        }
    }

    [Fact]
    public void A_leader_stamps_its_epoch_which_starts_at_its_log_end()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.Append(Build("single", 2));

        log.BecomeLeader(3);
        log.Append(Build("led", 1));

        Assert.Equal([new(3, 2)], log.LeaderEpochs.Entries);
        var headers = ReadHeaders(log.Read(0, new LogReadOptions(1 << 20) { UpToLogEnd = true }).Records);
        Assert.Equal([-1, 3], headers.Select(h => h.PartitionLeaderEpoch));

        // Replicated: the append moved the log end only; the replica manager moves the high watermark.
        Assert.Equal((3L, 2L), (log.LogEndOffset, log.HighWatermark));
    }

    [Fact]
    public void Truncation_cuts_whole_batches_across_segments_and_drops_the_epochs_past_the_new_end()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default with { SegmentBytes = 200 });
        log.BecomeFollower();
        long offset = 0;
        for (var i = 0; i < 8; i++)
        {
            log.AppendReplicated(Batch($"r{i}", 2, offset, epoch: i < 5 ? 1 : 2));
            offset += 2;
        }

        Assert.True(log.SegmentCount > 2);
        log.AdvanceHighWatermark(16);

        // Offset 7 is inside the batch [6, 7]: the whole batch goes.
        var end = log.TruncateTo(7);

        Assert.Equal(6, end);
        Assert.Equal((6L, 6L), (log.LogEndOffset, log.HighWatermark));
        Assert.Equal([new(1, 0)], log.LeaderEpochs.Entries);
        Assert.Equal(Enumerable.Range(0, 6).Select(i => (long)i), ReadOffsets(log));

        // The log goes on from its new end.
        log.AppendReplicated(Batch("after", 1, baseOffset: 6, epoch: 3));
        Assert.Equal(7, log.LogEndOffset);
        Assert.Equal([new(1, 0), new(3, 6)], log.LeaderEpochs.Entries);
    }

    [Fact]
    public void Truncating_at_the_log_end_drops_an_epoch_led_without_a_write()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.BecomeFollower();
        log.AppendReplicated(Batch("a", 3, baseOffset: 0, epoch: 1));

        // Led epoch 4 briefly, wrote nothing, follows again: epoch 4 is not this log's latest epoch any more.
        log.BecomeLeader(4);
        log.BecomeFollower();
        Assert.Equal([new(1, 0), new(4, 3)], log.LeaderEpochs.Entries);

        Assert.Equal(3, log.TruncateTo(3));
        Assert.Equal([new(1, 0)], log.LeaderEpochs.Entries);
        Assert.Equal(3, log.LogEndOffset);
    }

    [Fact]
    public void The_end_offset_of_an_epoch_is_where_the_next_one_starts_as_kafkas_cache_answers()
    {
        using var manager = LogManager.InMemory();
        var log = manager.GetOrCreate(Topic, 0, LogConfig.Default);
        log.BecomeFollower();
        log.AppendReplicated(Concat(Batch("a", 3, 0, epoch: 1), Batch("b", 2, 3, epoch: 3), Batch("c", 2, 5, epoch: 6)));
        var cache = log.LeaderEpochs;

        Assert.Equal((6, 7L), cache.EndOffsetFor(6, log.LogEndOffset));
        Assert.Equal((3, 5L), cache.EndOffsetFor(3, log.LogEndOffset));
        Assert.Equal((3, 5L), cache.EndOffsetFor(4, log.LogEndOffset));
        Assert.Equal((0, 0L), cache.EndOffsetFor(0, log.LogEndOffset));
        Assert.Equal((-1, -1L), cache.EndOffsetFor(7, log.LogEndOffset));
        Assert.Equal((-1, -1L), cache.EndOffsetFor(-1, log.LogEndOffset));
    }

    /// <summary>Every record offset of the log, read segment by segment (one read stays within one segment).</summary>
    private static List<long> ReadOffsets(PartitionLog log)
    {
        var offsets = new List<long>();
        while (true)
        {
            var read = log.Read(offsets.Count == 0 ? 0 : offsets[^1] + 1, new LogReadOptions(1 << 20) { UpToLogEnd = true });
            if (read.Records.IsEmpty)
            {
                return offsets;
            }

            offsets.AddRange(ReadRecords(read.Records).Select(r => r.Offset));
        }
    }

    private static byte[] Batch(string label, int count, long baseOffset, int epoch)
    {
        var batch = Build([.. Enumerable.Range(0, count).Select(i => Value($"{label}-{i}"))], baseOffset: baseOffset);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.PartitionLeaderEpochOffset), epoch);
        return batch;
    }
}
