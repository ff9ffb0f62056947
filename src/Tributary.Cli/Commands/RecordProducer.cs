using System.Threading.Channels;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server.Client;

namespace Tributary.Cli.Commands;

/// <summary>How <see cref="RecordProducer"/> batches and sends.</summary>
internal sealed record ProducerSettings(
    short Acks,
    CompressionType Compression,
    int BatchBytes,
    int LingerMs,
    bool Idempotent,
    int? Partition,
    IReadOnlyList<(string Key, byte[]? Value)> Headers);

/// <summary>
/// Kafka's producer loop over one connection, one request in flight: records collect in one batch per partition; a
/// request carrying every pending batch goes out when a batch reaches <c>BatchBytes</c>, when the oldest pending record
/// has waited <c>LingerMs</c>, or at the end of the input. Keyed records go to murmur2(key) like Kafka's default
/// partitioner; records without a key stick to one partition per request and move on round-robin (KIP-480's sticky
/// partitioner, minus its load weighting). With idempotence each batch carries the producer id, epoch and the
/// partition's next sequence, so the broker drops a batch it has already appended.
/// </summary>
internal sealed class RecordProducer(KafkaWireClient client, string topic, int partitionCount, ProducerSettings settings, TimeProvider time)
{
    private const short ProduceVersion = 9;
    private const short InitProducerIdVersion = 4;
    private const int RequestTimeoutMs = 30_000;

    // Per record in a batch beyond key and value: length, attributes, deltas and header counts (an estimate for sizing).
    private const int RecordOverheadBytes = 16;

    private readonly Dictionary<int, PendingBatch> _pending = [];
    private readonly int[] _sequences = new int[partitionCount];
    private readonly HashSet<int> _partitionsWritten = [];
    private readonly int _headerBytes = settings.Headers.Sum(h => h.Key.Length + (h.Value?.Length ?? 0) + 2);
    private long _producerId = -1;
    private short _producerEpoch = -1;
    private int _stickyPartition = Random.Shared.Next(partitionCount);
    private long _lingerDeadlineMs;

    public long RecordCount { get; private set; }

    public long ByteCount { get; private set; }

    public IReadOnlyCollection<int> PartitionsWritten => _partitionsWritten;

    public async Task RunAsync(ChannelReader<InputRecord> records, CancellationToken cancellationToken)
    {
        if (settings.Idempotent)
        {
            await InitProducerIdAsync(cancellationToken).ConfigureAwait(false);
        }

        while (true)
        {
            if (!await WaitForRecordsAsync(records, cancellationToken).ConfigureAwait(false))
            {
                if (records.Completion.IsCompleted)
                {
                    break;
                }

                await FlushAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            while (records.TryRead(out var record))
            {
                if (Add(record))
                {
                    await FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }

        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>True when records can be read; false when the input ended or the linger time of pending records ran out.</summary>
    private async Task<bool> WaitForRecordsAsync(ChannelReader<InputRecord> records, CancellationToken cancellationToken)
    {
        if (_pending.Count == 0)
        {
            return await records.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
        }

        var remainingMs = _lingerDeadlineMs - time.GetUtcNow().ToUnixTimeMilliseconds();
        if (remainingMs <= 0)
        {
            return false;
        }

        using var linger = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        linger.CancelAfter(TimeSpan.FromMilliseconds(remainingMs));
        try
        {
            return await records.WaitToReadAsync(linger.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Adds a record to its partition's batch; true when that batch is full.</summary>
    private bool Add(InputRecord record)
    {
        var partition = settings.Partition
            ?? (record.Key is null ? _stickyPartition : Murmur2Partitioner.Partition(record.Key, partitionCount));
        if (!_pending.TryGetValue(partition, out var batch))
        {
            if (_pending.Count == 0)
            {
                _lingerDeadlineMs = time.GetUtcNow().ToUnixTimeMilliseconds() + settings.LingerMs;
            }

            _pending[partition] = batch = new PendingBatch(new RecordBatchBuilder { Compression = settings.Compression });
        }

        batch.Builder.Add(time.GetUtcNow().ToUnixTimeMilliseconds(), record.Key, record.Value, settings.Headers);
        var recordBytes = (record.Key?.Length ?? 0) + record.Value.Length;
        batch.Bytes += recordBytes + _headerBytes + RecordOverheadBytes;
        RecordCount++;
        ByteCount += recordBytes;
        return batch.Bytes >= settings.BatchBytes;
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.Count == 0)
        {
            return;
        }

        var request = new ProduceRequest
        {
            Acks = settings.Acks,
            TimeoutMs = RequestTimeoutMs,
            TopicData = [new ProduceRequest.TopicProduceData { Name = topic }],
        };
        foreach (var (partition, batch) in _pending.OrderBy(p => p.Key))
        {
            if (settings.Idempotent)
            {
                batch.Builder.ProducerId = _producerId;
                batch.Builder.ProducerEpoch = _producerEpoch;
                batch.Builder.BaseSequence = _sequences[partition];
            }

            request.TopicData[0].PartitionData.Add(new ProduceRequest.PartitionProduceData { Index = partition, Records = batch.Builder.Build() });
        }

        if (settings.Acks == 0)
        {
            await client.SendOnlyAsync(ApiKey.Produce, ProduceVersion, request, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var response = await client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, ProduceVersion, request, cancellationToken).ConfigureAwait(false);
            foreach (var partition in response.Responses.SelectMany(t => t.PartitionResponses))
            {
                if (partition.ErrorCode != 0)
                {
                    var detail = partition.ErrorMessage ?? partition.RecordErrors.FirstOrDefault()?.BatchIndexErrorMessage;
                    throw new CommandFailedException($"{topic}-{partition.Index} rejected the batch: {(ErrorCode)partition.ErrorCode}{(detail is null ? "" : $" ({detail})")}");
                }
            }
        }

        foreach (var (partition, batch) in _pending)
        {
            _sequences[partition] = unchecked(_sequences[partition] + batch.Builder.Count) & int.MaxValue;
            _partitionsWritten.Add(partition);
        }

        _pending.Clear();
        _stickyPartition = (_stickyPartition + 1) % partitionCount;
    }

    private async Task InitProducerIdAsync(CancellationToken cancellationToken)
    {
        var request = new InitProducerIdRequest { TransactionalId = null, TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 };
        var response = await client.SendAsync<InitProducerIdRequest, InitProducerIdResponse>(ApiKey.InitProducerId, InitProducerIdVersion, request, cancellationToken).ConfigureAwait(false);
        if (response.ErrorCode != 0)
        {
            throw new CommandFailedException($"InitProducerId failed: {(ErrorCode)response.ErrorCode}");
        }

        (_producerId, _producerEpoch) = (response.ProducerId, response.ProducerEpoch);
    }

    private sealed class PendingBatch(RecordBatchBuilder builder)
    {
        public RecordBatchBuilder Builder { get; } = builder;

        public int Bytes { get; set; }
    }
}
