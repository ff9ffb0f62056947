using System.Buffers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server.Client;

namespace Tributary.Cli.Commands;

/// <summary>
/// Reads one topic's partitions from their positions with sessionless Fetch requests, decompresses batches, skips
/// control batches and (read_committed) the records of aborted transactions, and hands each record to a callback in
/// offset order. It tracks each partition's position (the next offset to read) and whether it reached the end the last
/// response reported: the high watermark, or the last stable offset under read_committed.
/// </summary>
internal sealed class RecordFetcher(KafkaWireClient client, string topic, sbyte isolationLevel)
{
    public const sbyte ReadUncommitted = 0;
    public const sbyte ReadCommitted = 1;

    private const short FetchVersion = 12;
    private const int MaxWaitMs = 500;
    private const int ResponseBytesMax = 32 * 1024 * 1024;
    private const int PartitionBytesMax = 1024 * 1024;
    private const int DecompressedBytesMax = 256 * 1024 * 1024;

    private readonly Dictionary<int, long> _positions = [];
    private readonly Dictionary<int, long> _ends = [];
    private readonly ArrayBufferWriter<byte> _scratch = new();

    /// <summary>Next offset to read of each partition being read.</summary>
    public IReadOnlyDictionary<int, long> Positions => _positions;

    public void Assign(int partition, long offset)
    {
        _positions[partition] = offset;
        _ends.Remove(partition);
    }

    public void Unassign(int partition)
    {
        _positions.Remove(partition);
        _ends.Remove(partition);
    }

    /// <summary>True when every partition read has reached the end its last fetch reported (none read: false).</summary>
    public bool AllAtEnd => _positions.Count > 0 && _positions.All(p => _ends.TryGetValue(p.Key, out var end) && p.Value >= end);

    /// <summary>
    /// One Fetch; <paramref name="onRecord"/> gets each record and returns false to stop at once (the position then
    /// points just past that record).
    /// </summary>
    public async Task FetchAsync(Func<ConsumedRecord, bool> onRecord, CancellationToken cancellationToken)
    {
        if (_positions.Count == 0)
        {
            return;
        }

        var request = new FetchRequest
        {
            ReplicaId = -1,
            MaxWaitMs = MaxWaitMs,
            MinBytes = 1,
            MaxBytes = ResponseBytesMax,
            IsolationLevel = isolationLevel,
            SessionId = 0,
            SessionEpoch = -1,
            Topics = [new FetchRequest.FetchTopic
            {
                Topic = topic,
                Partitions = [.. _positions.Select(p => new FetchRequest.FetchPartition { Partition = p.Key, FetchOffset = p.Value, PartitionMaxBytes = PartitionBytesMax })],
            }],
        };
        var response = await client.SendAsync<FetchRequest, FetchResponse>(ApiKey.Fetch, FetchVersion, request, cancellationToken).ConfigureAwait(false);
        if (response.ErrorCode != 0)
        {
            throw new CommandFailedException($"fetch failed: {(ErrorCode)response.ErrorCode}");
        }

        foreach (var partition in response.Responses.SelectMany(t => t.Partitions))
        {
            if (!_positions.ContainsKey(partition.PartitionIndex))
            {
                continue;
            }

            var error = (ErrorCode)partition.ErrorCode;
            if (error == ErrorCode.OffsetOutOfRange)
            {
                throw new CommandFailedException($"offset {_positions[partition.PartitionIndex]} is out of range for {topic}-{partition.PartitionIndex} (log start {partition.LogStartOffset}, end {partition.HighWatermark})");
            }

            if (error != ErrorCode.None)
            {
                throw new CommandFailedException($"fetching {topic}-{partition.PartitionIndex}: {error}");
            }

            _ends[partition.PartitionIndex] = isolationLevel == ReadCommitted && partition.LastStableOffset >= 0 ? partition.LastStableOffset : partition.HighWatermark;
            if (!ReadPartition(partition, onRecord))
            {
                return;
            }
        }
    }

    /// <summary>False when the callback asked to stop.</summary>
    private bool ReadPartition(FetchResponse.PartitionData partition, Func<ConsumedRecord, bool> onRecord)
    {
        var index = partition.PartitionIndex;
        var aborted = isolationLevel == ReadCommitted && partition.AbortedTransactions is { Count: > 0 } list
            ? new Queue<FetchResponse.AbortedTransaction>(list.OrderBy(a => a.FirstOffset))
            : null;
        var abortedProducers = new HashSet<long>();
        var remaining = partition.Records ?? ReadOnlyMemory<byte>.Empty;
        while (remaining.Length >= RecordBatchHeader.Size)
        {
            var header = RecordBatchHeader.Read(remaining.Span);
            if (header.TotalSize > remaining.Length)
            {
                break; // A partial batch at the end of the response: the next fetch starts at it again.
            }

            var batch = RecordBatch.Read(remaining);
            remaining = remaining[header.TotalSize..];
            if (header.NextOffset <= _positions[index])
            {
                continue;
            }

            // Kafka's consumer: a transaction is aborted from its first offset until its producer's abort marker.
            while (aborted is not null && aborted.TryPeek(out var next) && next.FirstOffset <= header.LastOffset)
            {
                abortedProducers.Add(aborted.Dequeue().ProducerId);
            }

            if (header.IsControl)
            {
                abortedProducers.Remove(header.ProducerId);
                _positions[index] = header.NextOffset;
                continue;
            }

            if (header.IsTransactional && abortedProducers.Contains(header.ProducerId))
            {
                _positions[index] = header.NextOffset;
                continue;
            }

            var records = header.Compression == CompressionType.None ? batch.Records : batch.DecompressRecords(_scratch, DecompressedBytesMax);
            foreach (var record in records)
            {
                var offset = header.BaseOffset + record.OffsetDelta;
                if (offset < _positions[index])
                {
                    continue;
                }

                var timestamp = header.IsLogAppendTime ? header.MaxTimestamp : header.BaseTimestamp + record.TimestampDelta;
                _positions[index] = offset + 1;
                if (!onRecord(new ConsumedRecord(topic, index, offset, timestamp, record)))
                {
                    return false;
                }
            }

            _positions[index] = Math.Max(_positions[index], header.NextOffset);
        }

        return true;
    }
}
