using System.Buffers.Binary;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;

namespace Tributary.LoadRunner;

/// <summary>
/// One consumer on its own connection, fetching its share of the partitions (partition p goes to consumer
/// p mod consumers) with one Fetch in flight, as a Kafka consumer does per broker; the next fetch is sent as soon
/// as a response arrives, before its records are walked. It walks every record of every
/// batch, as an application would, and in a pipeline run reads the send time the producer put in each value to
/// record end-to-end latency (send time to the moment the fetch response holding it was received).
/// </summary>
internal sealed class ConsumerWorker
{
    private const short FetchVersion = 12;

    private readonly LoadOptions _options;
    private readonly ConsumeGoal _goal;
    private readonly long _deadlineNanos;
    private readonly bool _recordEndToEnd;
    private readonly int[] _partitions;
    private readonly long[] _offsets;
    private readonly FetchRequest _request;
    private readonly Thread _thread;
    private readonly KafkaConnection _connection;
    private volatile bool _stopping;

    public ConsumerWorker(LoadOptions options, int index, long[] startOffsets, ConsumeGoal goal, long deadlineNanos, bool recordEndToEnd)
    {
        _options = options;
        _goal = goal;
        _deadlineNanos = deadlineNanos;
        _recordEndToEnd = recordEndToEnd;
        _partitions = [.. Enumerable.Range(0, options.Partitions).Where(p => p % options.Consumers == index)];
        _offsets = [.. _partitions.Select(p => startOffsets[p])];
        var fetchPartitions = _partitions
            .Select(p => new FetchRequest.FetchPartition { Partition = p, PartitionMaxBytes = options.FetchBytesMax, LogStartOffset = -1 })
            .ToList();
        _request = new FetchRequest
        {
            ReplicaId = -1,
            MaxWaitMs = options.FetchWaitMs,
            MinBytes = 1,
            MaxBytes = options.FetchBytesMax,
            SessionId = 0,
            SessionEpoch = -1,
            Topics = [new FetchRequest.FetchTopic { Topic = options.Topic, Partitions = fetchPartitions }],
        };
        _connection = KafkaConnection.Connect(options.Host, options.Port);
        _thread = new Thread(FetchLoop) { Name = $"consumer-{index}", IsBackground = true };
    }

    public LatencyHistogram EndToEndLatency { get; } = new();

    public long RecordsConsumed { get; private set; }

    public long ValueBytesConsumed { get; private set; }

    public long ResponseBytes { get; private set; }

    public long Fetches { get; private set; }

    public string? Failure { get; private set; }

    public bool IsAlive => _thread.IsAlive;

    public void Start() => _thread.Start();

    public void Stop()
    {
        _thread.Join(TimeSpan.FromSeconds(Math.Max(1, (_deadlineNanos - MonotonicClock.NowNanos()) / 1e9) + 5));
        _stopping = true;
        _connection.Dispose();
        _thread.Join(TimeSpan.FromSeconds(5));
    }

    private void FetchLoop()
    {
        var connection = _connection;
        var fetchedFrom = new long[_offsets.Length];
        try
        {
            var correlationId = SendFetch(connection);
            while (!_goal.IsReached && !_stopping && MonotonicClock.NowNanos() < _deadlineNanos)
            {
                using var responseFrame = connection.Receive();
                var now = MonotonicClock.NowNanos();
                Fetches++;
                ResponseBytes += responseFrame.Length + 4;
                var response = KafkaConnection.Decode<FetchResponse>(ApiKey.Fetch, FetchVersion, correlationId, responseFrame.Memory);
                if (response.ErrorCode != 0)
                {
                    throw new InvalidOperationException($"fetch error {(ErrorCode)response.ErrorCode}");
                }

                // The next offsets follow from the batch headers alone, so the next fetch goes out before this
                // response's records are walked: the broker reads while the client parses, as a client with a
                // fetch queue (librdkafka's pre-fetching) does. Still one fetch in flight.
                _offsets.CopyTo(fetchedFrom, 0);
                foreach (var topic in response.Responses)
                {
                    foreach (var partition in topic.Partitions)
                    {
                        if (partition.ErrorCode != 0)
                        {
                            throw new InvalidOperationException($"fetch {topic.Topic}-{partition.PartitionIndex}: error {(ErrorCode)partition.ErrorCode}");
                        }

                        var slot = Array.IndexOf(_partitions, partition.PartitionIndex);
                        _offsets[slot] = Math.Max(_offsets[slot], NextOffset(partition.Records ?? ReadOnlyMemory<byte>.Empty));
                    }
                }

                correlationId = SendFetch(connection);
                long records = 0;
                foreach (var topic in response.Responses)
                {
                    foreach (var partition in topic.Partitions)
                    {
                        var slot = Array.IndexOf(_partitions, partition.PartitionIndex);
                        records += ReadRecords(partition.Records ?? ReadOnlyMemory<byte>.Empty, fetchedFrom[slot], now);
                    }
                }

                _goal.Add(records, now);
            }
        }
        catch (Exception e) when (!_stopping)
        {
            Failure ??= $"consumer: {e.GetType().Name}: {e.Message}";
        }
        catch (Exception) when (_stopping)
        {
            // Stop closed the connection after the time limit.
        }
    }

    private int SendFetch(KafkaConnection connection)
    {
        var partitions = _request.Topics[0].Partitions;
        for (var i = 0; i < partitions.Count; i++)
        {
            partitions[i].FetchOffset = _offsets[i];
        }

        var (correlationId, frame) = connection.Encode(ApiKey.Fetch, FetchVersion, _request);
        connection.Send(frame.Span);
        return correlationId;
    }

    /// <summary>The offset after the last whole batch of <paramref name="data"/> (0 when it holds none).</summary>
    private static long NextOffset(ReadOnlyMemory<byte> data)
    {
        long next = 0;
        while (data.Length >= RecordBatchHeader.Size)
        {
            var header = RecordBatchHeader.Read(data.Span);
            if (header.TotalSize > data.Length)
            {
                break;
            }

            next = header.NextOffset;
            data = data[header.TotalSize..];
        }

        return next;
    }

    private long ReadRecords(ReadOnlyMemory<byte> data, long fetchOffset, long nowNanos)
    {
        long records = 0;
        while (data.Length >= RecordBatchHeader.Size)
        {
            var batch = RecordBatch.Read(data);
            data = data[batch.Header.TotalSize..];
            if (batch.Header.NextOffset <= fetchOffset)
            {
                continue;
            }

            foreach (var record in batch.Records)
            {
                var offset = batch.Header.BaseOffset + record.OffsetDelta;
                if (offset < fetchOffset)
                {
                    continue;
                }

                records++;
                var value = record.Value is { } v ? v.Span : default;
                ValueBytesConsumed += value.Length;
                if (_recordEndToEnd && value.Length >= 8)
                {
                    var scheduled = BinaryPrimitives.ReadInt64BigEndian(value);
                    if (scheduled >= _goal.LatencyFromNanos)
                    {
                        EndToEndLatency.Record(nowNanos - scheduled);
                    }
                }
            }
        }

        RecordsConsumed += records;
        return records;
    }
}
