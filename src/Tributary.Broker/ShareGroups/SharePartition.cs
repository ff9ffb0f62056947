using System.Runtime.InteropServices;
using Tributary.Protocol;
using Tributary.Protocol.CoordinatorRecords;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.ShareGroups;

/// <summary>
/// One share group's state of one topic partition (Kafka's SharePartition): the start offset, below which every
/// record is done with, and one entry per in-flight offset from there to the end offset (the next offset never
/// acquired). An entry is AVAILABLE (to be delivered, again), ACQUIRED by one member until its lock expires,
/// ACKNOWLEDGED or ARCHIVED (done: rejected, a gap, skipped by read_committed, or delivered delivery-count-limit
/// times). The start offset moves past done entries, so the in-flight window holds at most
/// <c>share.partition.max.record.locks</c> entries plus one batch. Every method takes the partition's lock.
/// </summary>
internal sealed class SharePartition(SharePartitionKey key)
{
    /// <summary>Bytes of the log one acquisition reads at most when it looks for new records.</summary>
    public const int AcquireReadBytesMax = 1 << 20;

    private readonly Lock _lock = new();
    private readonly List<Entry> _inFlight = [];
    private long _startOffset = -1;
    private int _snapshotEpoch;

    public SharePartitionKey Key { get; } = key;

    /// <summary>False until the start offset is known (from a snapshot or share.auto.offset.reset).</summary>
    public bool IsInitialized => _startOffset >= 0;

    public long StartOffset
    {
        get
        {
            lock (_lock)
            {
                return _startOffset;
            }
        }
    }

    /// <summary>Whether the state changed since the last <see cref="TakeSnapshot"/>.</summary>
    public bool IsDirty { get; private set; }

    /// <summary>Sets the start offset of a partition without state: where share.auto.offset.reset says.</summary>
    public void InitializeIfNeeded(PartitionLog log, ShareAutoOffsetReset reset, long nowMs)
    {
        lock (_lock)
        {
            if (_startOffset >= 0)
            {
                return;
            }

            _startOffset = reset.Kind switch
            {
                ShareAutoOffsetReset.Strategy.Earliest => log.LogStartOffset,
                ShareAutoOffsetReset.Strategy.ByDuration => log.FirstOffsetAtOrAfterTimestamp(nowMs - (long)reset.Duration.TotalMilliseconds) ?? log.HighWatermark,
                _ => log.HighWatermark,
            };
            IsDirty = true;
        }
    }

    /// <summary>
    /// Starts the partition again at <paramref name="offset"/> with nothing in flight (AlterShareGroupOffsets, whose
    /// group has no members and so holds no locks).
    /// </summary>
    public void ResetTo(long offset)
    {
        lock (_lock)
        {
            _inFlight.Clear();
            _startOffset = offset;
            IsDirty = true;
        }
    }

    /// <summary>
    /// Acquires records for <paramref name="memberId"/> within <paramref name="limits"/>, in offset order: the AVAILABLE
    /// in-flight ones (redeliveries), then new records read from the log after the end offset, up to the high watermark
    /// (read_committed: the last stable offset, aborted and control records archived), while fewer than
    /// <see cref="ShareGroupSettings.PartitionMaxRecordLocks"/> are in flight. Offsets a compacted log no longer holds are
    /// archived. As Kafka's SharePartition: batch_optimized takes whole stored batches of new records (MaxRecords may be
    /// exceeded to finish one), record_limit never takes more than MaxRecords and splits a batch to stop there.
    /// </summary>
    public AcquireResult Acquire(string memberId, AcquireLimits limits, PartitionLog log, ShareGroupSettings settings, long nowMs)
    {
        var ranges = new List<AcquiredRange>();
        var count = 0;
        var bytes = 0L;
        lock (_lock)
        {
            ExpireLocks(nowMs, settings.DeliveryCountLimit);
            FollowLogStart(log.LogStartOffset);
            var startBefore = _startOffset;
            var lockExpiresMs = nowMs + settings.RecordLockDurationMs;
            var limit = settings.ReadCommitted ? log.LastStableOffset : log.HighWatermark;
            var end = _startOffset + _inFlight.Count;
            var firstAvailable = _inFlight.FindIndex(e => e.State == RecordState.Available);
            var offset = firstAvailable >= 0 ? _startOffset + firstAvailable : end;
            var aborted = settings.ReadCommitted && limit > end ? log.AbortedTransactions(end, limit) : [];
            var sealedRange = false; // the last range reached BatchSize at a batch boundary: the next offset opens a new one
            var done = false;
            while (!done && count < limits.MaxRecords)
            {
                if (offset >= _startOffset + _inFlight.Count && (offset >= limit || _inFlight.Count >= settings.PartitionMaxRecordLocks))
                {
                    break;
                }

                var read = log.Read(offset, new LogReadOptions(AcquireReadBytesMax) { MaxOffset = Math.Max(limit, end) });
                if (read.Status != LogReadStatus.Ok || read.Records.IsEmpty)
                {
                    break;
                }

                var before = offset;
                for (var rest = read.Records; !done && rest.Length >= RecordBatchHeader.Size;)
                {
                    var header = RecordBatchHeader.Read(rest.Span);
                    var size = Math.Min(header.TotalSize, rest.Length);
                    rest = rest[size..];
                    if (header.LastOffset < offset)
                    {
                        continue;
                    }

                    // Offsets below this batch that compaction removed: nothing to deliver.
                    for (; offset < header.BaseOffset; offset++)
                    {
                        ArchiveGap(offset, limit);
                    }

                    var skip = header.IsControl || (header.IsTransactional && aborted.Any(a => a.ProducerId == header.ProducerId && a.FirstOffset <= header.BaseOffset && header.BaseOffset <= a.LastOffset));
                    if (bytes + size > limits.MaxBytes && !(limits.FirstBatchAlways && bytes == 0) && HasAcquirable(offset, header.LastOffset, limit, skip))
                    {
                        done = true;
                        break;
                    }

                    var countBefore = count;
                    for (; offset <= header.LastOffset; offset++)
                    {
                        var index = (int)(offset - _startOffset);
                        if (index < _inFlight.Count)
                        {
                            if (_inFlight[index].State == RecordState.Available && count < limits.MaxRecords)
                            {
                                var entry = _inFlight[index] = new Entry(RecordState.Acquired, (short)(_inFlight[index].DeliveryCount + 1), memberId, lockExpiresMs);
                                Add(ranges, offset, entry.DeliveryCount, ref sealedRange);
                                count++;
                            }

                            continue;
                        }

                        // New records: batch_optimized finishes the batch, record_limit stops at MaxRecords.
                        if (offset >= limit || (limits.RecordLimit && count >= limits.MaxRecords))
                        {
                            done = true;
                            break;
                        }

                        if (skip)
                        {
                            _inFlight.Add(new Entry(RecordState.Archived, 0, null, 0));
                        }
                        else
                        {
                            _inFlight.Add(new Entry(RecordState.Acquired, 1, memberId, lockExpiresMs));
                            Add(ranges, offset, 1, ref sealedRange);
                            count++;
                        }
                    }

                    if (count > countBefore)
                    {
                        bytes += size;
                        sealedRange = !limits.RecordLimit && limits.BatchSize > 0 && ranges[^1].LastOffset - ranges[^1].FirstOffset + 1 >= limits.BatchSize;
                    }

                    if (count >= limits.MaxRecords || (offset >= _startOffset + _inFlight.Count && _inFlight.Count >= settings.PartitionMaxRecordLocks))
                    {
                        done = true;
                    }
                }

                if (offset == before)
                {
                    break;
                }
            }

            AdvanceStart();
            IsDirty |= _startOffset != startBefore;
        }

        // Acquisition itself is not written (as in Kafka): a restart releases every lock anyway.
        return new AcquireResult(ranges, count, bytes);
    }

    /// <summary>
    /// The bytes of stored batches a fetch could acquire from now, counted up to about <paramref name="enoughBytes"/>:
    /// from the first AVAILABLE in-flight offset (or the end offset) to the high watermark (read_committed: the last
    /// stable offset), as Kafka's DelayedShareFetch measures MinBytes; 0 while the in-flight window is full.
    /// </summary>
    public long AcquirableBytes(PartitionLog log, ShareGroupSettings settings, long nowMs, int enoughBytes)
    {
        lock (_lock)
        {
            ExpireLocks(nowMs, settings.DeliveryCountLimit);
            var firstAvailable = _inFlight.FindIndex(e => e.State == RecordState.Available);
            var limit = settings.ReadCommitted ? log.LastStableOffset : log.HighWatermark;
            var from = firstAvailable >= 0 ? _startOffset + firstAvailable : _startOffset + _inFlight.Count;
            if (from >= limit || (firstAvailable < 0 && _inFlight.Count >= settings.PartitionMaxRecordLocks))
            {
                return 0;
            }

            var read = log.Read(Math.Max(from, log.LogStartOffset), new LogReadOptions(Math.Max(1, enoughBytes)) { MaxOffset = limit });
            var bytes = 0L;
            for (var rest = read.Status == LogReadStatus.Ok ? read.Records : ReadOnlyMemory<byte>.Empty; rest.Length >= RecordBatchHeader.Size;)
            {
                var header = RecordBatchHeader.Read(rest.Span);
                var size = Math.Min(header.TotalSize, rest.Length);
                rest = rest[size..];
                if (header.LastOffset >= from)
                {
                    bytes += size;
                }
            }

            return bytes;
        }
    }

    /// <summary>
    /// Applies <paramref name="batches"/> of <paramref name="memberId"/> all or nothing: INVALID_REQUEST for a malformed
    /// batch (first after last, a types array that is neither one type nor one per offset, an unknown type, RENEW
    /// where the version has none, overlapping batches), INVALID_RECORD_STATE when any offset is not in flight or not
    /// acquired by this member (already acknowledged, released, expired, or another member's).
    /// </summary>
    public ErrorCode Acknowledge(string memberId, IReadOnlyList<AcknowledgementBatch> batches, bool renewAllowed, ShareGroupSettings settings, long nowMs)
    {
        lock (_lock)
        {
            ExpireLocks(nowMs, settings.DeliveryCountLimit);
            var previousLast = long.MinValue;
            foreach (var batch in batches.OrderBy(b => b.FirstOffset))
            {
                var span = batch.LastOffset - batch.FirstOffset + 1;
                if (batch.FirstOffset < 0 || span <= 0 || batch.FirstOffset <= previousLast
                    || (batch.Types.Count != 1 && batch.Types.Count != span)
                    || batch.Types.Any(t => t < (sbyte)AcknowledgeType.Gap || t > (sbyte)AcknowledgeType.Renew || (t == (sbyte)AcknowledgeType.Renew && !renewAllowed)))
                {
                    return ErrorCode.InvalidRequest;
                }

                previousLast = batch.LastOffset;
                if (batch.FirstOffset < _startOffset || batch.LastOffset >= _startOffset + _inFlight.Count)
                {
                    return ErrorCode.InvalidRecordState;
                }

                for (var offset = batch.FirstOffset; offset <= batch.LastOffset; offset++)
                {
                    var entry = _inFlight[(int)(offset - _startOffset)];
                    if (entry.State != RecordState.Acquired || entry.Owner != memberId)
                    {
                        return ErrorCode.InvalidRecordState;
                    }
                }
            }

            var entries = CollectionsMarshal.AsSpan(_inFlight);
            foreach (var batch in batches)
            {
                for (var offset = batch.FirstOffset; offset <= batch.LastOffset; offset++)
                {
                    ref var entry = ref entries[(int)(offset - _startOffset)];
                    var type = (AcknowledgeType)batch.Types[batch.Types.Count == 1 ? 0 : (int)(offset - batch.FirstOffset)];
                    entry = type switch
                    {
                        AcknowledgeType.Accept => entry with { State = RecordState.Acknowledged, Owner = null },
                        AcknowledgeType.Release => Released(entry, settings.DeliveryCountLimit),
                        AcknowledgeType.Renew => entry with { LockExpiresMs = nowMs + settings.RecordLockDurationMs },
                        _ => entry with { State = RecordState.Archived, Owner = null },
                    };
                }
            }

            AdvanceStart();
            IsDirty = true;
            return ErrorCode.None;
        }
    }

    /// <summary>Releases every record <paramref name="memberId"/> holds (its share session closed, it left the group).</summary>
    public void ReleaseMember(string memberId, int deliveryCountLimit)
    {
        lock (_lock)
        {
            var entries = CollectionsMarshal.AsSpan(_inFlight);
            var released = false;
            for (var i = 0; i < entries.Length; i++)
            {
                if (entries[i].State == RecordState.Acquired && entries[i].Owner == memberId)
                {
                    entries[i] = Released(entries[i], deliveryCountLimit);
                    released = true;
                }
            }

            if (released)
            {
                AdvanceStart();
                IsDirty = true;
            }
        }
    }

    /// <summary>The earliest time an acquisition lock expires, or null when none is held.</summary>
    public long? NextLockExpiryMs()
    {
        lock (_lock)
        {
            long? next = null;
            foreach (var entry in _inFlight)
            {
                if (entry.State == RecordState.Acquired && (next is null || entry.LockExpiresMs < next))
                {
                    next = entry.LockExpiresMs;
                }
            }

            return next;
        }
    }

    /// <summary>Returns the locks that expired by <paramref name="nowMs"/>; true when one did.</summary>
    public bool ExpireLocksAt(long nowMs, int deliveryCountLimit)
    {
        lock (_lock)
        {
            return ExpireLocks(nowMs, deliveryCountLimit);
        }
    }

    /// <summary>Records done with (acknowledged or archived) above the start offset: Kafka's DeliveryCompleteCount.</summary>
    public int DeliveryCompleteCount()
    {
        lock (_lock)
        {
            return _inFlight.Count(e => e.State is RecordState.Acknowledged or RecordState.Archived);
        }
    }

    /// <summary>(offset, state, delivery count) of every in-flight record, for tests and DescribeShareGroupOffsets.</summary>
    public IReadOnlyList<(long Offset, RecordState State, short DeliveryCount)> InFlight()
    {
        lock (_lock)
        {
            return [.. _inFlight.Select((e, i) => (_startOffset + i, e.State, e.DeliveryCount))];
        }
    }

    /// <summary>
    /// The state as a ShareSnapshot record value: the start offset and the in-flight entries as runs of equal state and
    /// delivery count (ACQUIRED stored as AVAILABLE: after a restart nobody holds a lock). Clears <see cref="IsDirty"/>.
    /// </summary>
    public ShareSnapshotValue TakeSnapshot(long nowMs)
    {
        lock (_lock)
        {
            var value = new ShareSnapshotValue
            {
                SnapshotEpoch = ++_snapshotEpoch,
                StateEpoch = 0,
                LeaderEpoch = 0,
                StartOffset = _startOffset,
                DeliveryCompleteCount = _inFlight.Count(e => e.State is RecordState.Acknowledged or RecordState.Archived),
                CreateTimestamp = nowMs,
                WriteTimestamp = nowMs,
            };
            for (var i = 0; i < _inFlight.Count;)
            {
                var state = Stored(_inFlight[i].State);
                var count = _inFlight[i].DeliveryCount;
                var j = i + 1;
                while (j < _inFlight.Count && Stored(_inFlight[j].State) == state && _inFlight[j].DeliveryCount == count)
                {
                    j++;
                }

                value.StateBatches.Add(new ShareSnapshotValue.StateBatch { FirstOffset = _startOffset + i, LastOffset = _startOffset + j - 1, DeliveryState = (sbyte)state, DeliveryCount = count });
                i = j;
            }

            IsDirty = false;
            return value;
        }
    }

    /// <summary>Restores the state a snapshot holds (at broker start); offsets between its batches are AVAILABLE, never delivered.</summary>
    public void Restore(long startOffset, int snapshotEpoch, IEnumerable<(long First, long Last, RecordState State, short DeliveryCount)> batches)
    {
        lock (_lock)
        {
            _startOffset = startOffset;
            _snapshotEpoch = snapshotEpoch;
            _inFlight.Clear();
            foreach (var (first, last, state, deliveryCount) in batches.OrderBy(b => b.First))
            {
                for (var offset = Math.Max(first, _startOffset + _inFlight.Count); offset <= last; offset++)
                {
                    while (_startOffset + _inFlight.Count < offset)
                    {
                        _inFlight.Add(new Entry(RecordState.Available, 0, null, 0));
                    }

                    _inFlight.Add(new Entry(state == RecordState.Acquired ? RecordState.Available : state, deliveryCount, null, 0));
                }
            }

            AdvanceStart();
        }
    }

    // An offset the log no longer holds (compacted away): an AVAILABLE in-flight one is archived, a new one below
    // the limit enters the in-flight window archived.
    private void ArchiveGap(long offset, long limit)
    {
        var index = (int)(offset - _startOffset);
        if (index < _inFlight.Count)
        {
            if (_inFlight[index].State == RecordState.Available)
            {
                _inFlight[index] = new Entry(RecordState.Archived, _inFlight[index].DeliveryCount, null, 0);
                IsDirty = true;
            }
        }
        else if (offset < limit)
        {
            _inFlight.Add(new Entry(RecordState.Archived, 0, null, 0));
        }
    }

    // Whether a batch covering [from, last] holds an offset this acquisition would take.
    private bool HasAcquirable(long from, long last, long limit, bool skip)
    {
        for (var offset = from; offset <= last; offset++)
        {
            var index = offset - _startOffset;
            if (index >= _inFlight.Count)
            {
                return !skip && offset < limit;
            }

            if (_inFlight[(int)index].State == RecordState.Available)
            {
                return true;
            }
        }

        return false;
    }

    private bool ExpireLocks(long nowMs, int deliveryCountLimit)
    {
        var entries = CollectionsMarshal.AsSpan(_inFlight);
        var expired = false;
        for (var i = 0; i < entries.Length; i++)
        {
            if (entries[i].State == RecordState.Acquired && entries[i].LockExpiresMs <= nowMs)
            {
                entries[i] = Released(entries[i], deliveryCountLimit);
                expired = true;
            }
        }

        if (expired)
        {
            AdvanceStart();
            IsDirty = true;
        }

        return expired;
    }

    /// <summary>Retention or DeleteRecords moved the log start past the start offset: those records are gone.</summary>
    private void FollowLogStart(long logStartOffset)
    {
        if (logStartOffset > _startOffset)
        {
            var drop = (int)Math.Min(_inFlight.Count, logStartOffset - _startOffset);
            _inFlight.RemoveRange(0, drop);
            _startOffset = logStartOffset;
            IsDirty = true;
        }
    }

    private void AdvanceStart()
    {
        var done = 0;
        while (done < _inFlight.Count && _inFlight[done].State is RecordState.Acknowledged or RecordState.Archived)
        {
            done++;
        }

        if (done > 0)
        {
            _inFlight.RemoveRange(0, done);
            _startOffset += done;
        }
    }

    // A record given back is delivered again unless it has been delivered share.delivery.count.limit times.
    private static Entry Released(Entry entry, int deliveryCountLimit) =>
        new(entry.DeliveryCount >= deliveryCountLimit ? RecordState.Archived : RecordState.Available, entry.DeliveryCount, null, 0);

    private static RecordState Stored(RecordState state) => state == RecordState.Acquired ? RecordState.Available : state;

    private static void Add(List<AcquiredRange> ranges, long offset, short deliveryCount, ref bool sealedRange)
    {
        var extend = !sealedRange && ranges.Count > 0 && ranges[^1].LastOffset == offset - 1 && ranges[^1].DeliveryCount == deliveryCount;
        sealedRange = false;
        if (extend)
        {
            ranges[^1] = ranges[^1] with { LastOffset = offset };
        }
        else
        {
            ranges.Add(new AcquiredRange(offset, offset, deliveryCount));
        }
    }

    private readonly record struct Entry(RecordState State, short DeliveryCount, string? Owner, long LockExpiresMs);
}
