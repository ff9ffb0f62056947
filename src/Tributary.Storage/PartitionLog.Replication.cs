using System.Buffers.Binary;
using Tributary.Protocol.Records;
using Tributary.Storage.Segments;

namespace Tributary.Storage;

/// <summary>
/// Replication (cluster mode only): a high watermark the replica manager moves, the leader epoch stamped on appended
/// batches and kept in the leader-epoch checkpoint, a follower's append that keeps the leader's offsets, and truncation.
/// A single node never calls these: its high watermark follows each append, and the only cost to it is one flag test.
/// </summary>
public sealed partial class PartitionLog
{
    // Set once the partition takes part in replication: from then on appends move only the log end offset.
    private volatile bool _replicated;

    // The epoch a leader stamps on the batches it appends; -1 leaves them as the producer sent them.
    private volatile int _leaderEpoch = -1;

    private LeaderEpochCache? _leaderEpochs;

    /// <summary>The leader-epoch checkpoint, read on first use (a single node never reads it).</summary>
    public LeaderEpochCache LeaderEpochs
    {
        get
        {
            if (Volatile.Read(ref _leaderEpochs) is { } cache)
            {
                return cache;
            }

            lock (_appendLock)
            {
                return _leaderEpochs ??= LeaderEpochCache.Load(_device, Directory, _logEndOffset);
            }
        }
    }

    /// <summary>Whether the replica manager owns the high watermark (the broker is in a cluster).</summary>
    public bool IsReplicated => _replicated;

    /// <summary>
    /// Becomes leader at <paramref name="epoch"/>: the epoch starts at the log end offset (leader-epoch checkpoint) and is
    /// stamped on every batch appended from now on; the high watermark moves only by <see cref="AdvanceHighWatermark"/>.
    /// </summary>
    public void BecomeLeader(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        var cache = LeaderEpochs;
        lock (_appendLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _replicated = true;
            cache.Assign(epoch, _logEndOffset);
            _leaderEpoch = epoch;
        }
    }

    /// <summary>Becomes a follower: appends come only from <see cref="AppendReplicated"/>, with the leader's epochs.</summary>
    public void BecomeFollower()
    {
        lock (_appendLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _replicated = true;
            _leaderEpoch = -1;
        }
    }

    /// <summary>
    /// Moves the high watermark up to <paramref name="offset"/> (at most the log end offset; never down), then wakes
    /// the fetches parked on the log. Returns whether it moved.
    /// </summary>
    public bool AdvanceHighWatermark(long offset)
    {
        while (true)
        {
            var current = Volatile.Read(ref _highWatermark);
            var target = Math.Min(offset, LogEndOffset);
            if (target <= current)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _highWatermark, target, current) == current)
            {
                Producers.PublishAfterHighWatermark();
                RaiseAppended();
                return true;
            }
        }
    }

    /// <summary>
    /// A follower's append: whole v2 batches fetched from the leader, stored with their offsets, epochs and producer ids
    /// as they are. The first must start at the log end offset and each after it where the one before ended; every
    /// batch's CRC is checked. Epochs newer than the checkpoint's latest are recorded in it. The high watermark does not
    /// move (the follower takes the leader's).
    /// </summary>
    public LogAppendResult AppendReplicated(Memory<byte> batches)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var cache = LeaderEpochs;
        long firstOffset;
        long lastOffset;
        long logStartOffset;
        lock (_appendLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            firstOffset = _logEndOffset;
            var expected = firstOffset;
            var span = batches.Span;
            for (var cursor = 0; cursor < span.Length;)
            {
                var header = RecordBatchHeader.Read(span[cursor..]);
                if (header.TotalSize > span.Length - cursor || header.Magic != 2 || !RecordBatchHeader.IsCrcValid(span.Slice(cursor, header.TotalSize)))
                {
                    throw new InvalidDataException($"replicated batch at byte {cursor} of {Topic}-{Partition} is torn or corrupt");
                }

                if (header.BaseOffset != expected)
                {
                    throw new InvalidDataException($"replicated batch of {Topic}-{Partition} starts at {header.BaseOffset}, expected {expected}");
                }

                expected = header.NextOffset;
                cursor += header.TotalSize;
            }

            var active = WriteToActiveSegment(span, expected - 1);
            for (var cursor = 0; cursor < span.Length;)
            {
                var epoch = BinaryPrimitives.ReadInt32BigEndian(span[(cursor + RecordBatchHeader.PartitionLeaderEpochOffset)..]);
                var prefix = BatchPrefix.Read(span[cursor..]);
                if (epoch > cache.LatestEpoch)
                {
                    cache.Assign(epoch, prefix.BaseOffset);
                }

                cursor += prefix.TotalSize;
            }

            TrackProducers(batches, active);
            lastOffset = expected - 1;
            Volatile.Write(ref _logEndOffset, expected);
            logStartOffset = _logStartOffset;
        }

        return AfterAppend(firstOffset, lastOffset - firstOffset + 1, null, logStartOffset, deferFlush: false);
    }

    /// <summary>
    /// Cuts the log before the batch holding <paramref name="offset"/> (a batch goes whole, so the new log end may be
    /// lower): segments after it are deleted, the leader-epoch checkpoint drops the epochs that start past the new end,
    /// and the producer state is rebuilt from a snapshot below the cut plus the batches after it. The high watermark
    /// goes down with the log end if it was above. An offset at or past the log end cuts only epochs that start at the
    /// log end (Kafka does the same). Returns the new log end offset.
    /// </summary>
    public long TruncateTo(long offset)
    {
        var cache = LeaderEpochs;
        lock (_appendLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (offset >= _logEndOffset)
            {
                // No record goes, but an epoch this log started at its end and wrote nothing in (it led briefly)
                // does: the next leader may never have had it, and a follower names its latest epoch in every fetch.
                cache.TruncateFromEnd(_logEndOffset);
                return _logEndOffset;
            }

            var segments = _segments;
            var keep = Math.Max(1, segments.Count(s => s.BaseOffset < offset));
            var cut = segments[keep - 1];
            _segments = segments[..keep];
            foreach (var removed in segments[keep..])
            {
                DeleteSegmentLater(removed);
            }

            cut.TruncateTo(offset, _config.IndexIntervalBytes);
            var end = cut.NextOffset;
            Volatile.Write(ref _logEndOffset, end);
            if (Volatile.Read(ref _highWatermark) > end)
            {
                Volatile.Write(ref _highWatermark, end);
            }

            lock (_flushLock)
            {
                if (Volatile.Read(ref _flushedOffset) > end)
                {
                    Volatile.Write(ref _flushedOffset, end);
                }
            }

            if (_logStartOffset > end)
            {
                SetLogStartOffset(end);
            }

            cache.TruncateFromEnd(end);
            LoadProducerState([cut], cut.BaseOffset);
            StorageLog.TruncatedForReplication(_logger, Topic, Partition, offset, end);
            return end;
        }
    }
}
