using System.Collections.Concurrent;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.LoadRunner;

/// <summary>
/// One producer on its own connection, like one Kafka producer instance. A sender thread generates records, fills
/// one batch at a time (sticky partitioning: a batch is filled, sent, and the next batch goes to the next partition),
/// seals it at batch.size or after linger.ms, and sends it as a Produce request with up to max.in.flight requests
/// unacknowledged. A receiver thread matches responses to requests in order and records each batch's latency from
/// the moment its request was written to the socket until its response arrived.
/// In paced mode each record's send time is its scheduled time (start + i / rate), not the time it was actually
/// generated, so a producer that falls behind shows it in end-to-end latency instead of hiding it.
/// </summary>
internal sealed class ProducerWorker
{
    private const short ProduceVersion = 9;

    /// <summary>How long acknowledgements may still arrive after the time limit before the run is cut.</summary>
    private const long DrainNanosMax = 5_000_000_000;

    /// <summary>Most requests kept for <see cref="LoadOptions.RequestLog"/> per producer (16 bytes each); later ones are counted only.</summary>
    public const int RequestLogEntriesMax = 2_000_000;

    private readonly LoadOptions _options;
    private readonly KafkaConnection _connection;
    private readonly long _recordQuota;
    private readonly double _ratePerSecond;
    private readonly long _startNanos;
    private readonly long _deadlineNanos;
    private readonly long _wallStartMs;
    private readonly SemaphoreSlim _inFlightSlots;
    private readonly ConcurrentQueue<InFlightBatch> _inFlight = new();
    private readonly ProduceRequest.PartitionProduceData _partitionData = new();
    private readonly ProduceRequest _request;
    private readonly Thread _sender;
    private readonly Thread _receiver;
    private int _nextPartition;
    private long _recordsSent;
    private long _recordsAcked;
    private long _recordsFailed;
    private volatile bool _stopping;

    public ProducerWorker(LoadOptions options, int index, long recordQuota, double ratePerSecond, long startNanos, long deadlineNanos, long wallStartMs)
    {
        _options = options;
        _recordQuota = recordQuota;
        _ratePerSecond = ratePerSecond;
        _startNanos = startNanos;
        _deadlineNanos = deadlineNanos;
        _wallStartMs = wallStartMs;
        _nextPartition = index % options.Partitions;
        _inFlightSlots = new SemaphoreSlim(options.InFlightMax, options.InFlightMax);
        _request = new ProduceRequest
        {
            Acks = options.Acks,
            TimeoutMs = 30_000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = options.Topic, PartitionData = [_partitionData] }],
        };
        RequestLog = options.RequestLog.Length > 0 ? new List<(long, long)>(64 * 1024) : null;
        _connection = KafkaConnection.Connect(options.Host, options.Port);
        _sender = new Thread(SendLoop) { Name = $"producer-{index}-send", IsBackground = true };
        _receiver = new Thread(ReceiveLoop) { Name = $"producer-{index}-receive", IsBackground = true };
    }

    public LatencyHistogram BatchLatency { get; } = new();

    /// <summary>Send time and latency (ns) of each recorded request, when <see cref="LoadOptions.RequestLog"/> is set.</summary>
    public List<(long SendNanos, long LatencyNanos)>? RequestLog { get; }

    /// <summary>Recorded requests left out of <see cref="RequestLog"/> past <see cref="RequestLogEntriesMax"/>.</summary>
    public long RequestLogDropped { get; private set; }

    public long RecordsSent => Volatile.Read(ref _recordsSent);

    public long RecordsAcked => Volatile.Read(ref _recordsAcked);

    public long RecordsFailed => Volatile.Read(ref _recordsFailed);

    public long BatchesSent { get; private set; }

    public long RequestBytesSent { get; private set; }

    public long LastAckNanos { get; private set; }

    /// <summary>The time limit, not the record count, ended record generation (expected in max-rate runs).</summary>
    public bool StoppedByTime { get; private set; }

    /// <summary>Acknowledgements were still missing when the drain time after the limit ran out.</summary>
    public bool Incomplete { get; private set; }

    public string? Failure { get; private set; }

    public bool IsDone => !_sender.IsAlive && RecordsAcked + RecordsFailed >= RecordsSent;

    public void Start()
    {
        if (_options.Acks != 0)
        {
            _receiver.Start();
        }

        _sender.Start();
    }

    /// <summary>Waits for the sender and then for outstanding acknowledgements, bounded; then closes the connection.</summary>
    public void Stop()
    {
        var limit = _deadlineNanos + DrainNanosMax;
        while (!IsDone && MonotonicClock.NowNanos() < limit && Failure is null)
        {
            Thread.Sleep(1);
        }

        if (!IsDone)
        {
            Incomplete = true;
        }

        _stopping = true;
        _connection.Dispose();
        _sender.Join(TimeSpan.FromSeconds(5));
        if ((_receiver.ThreadState & ThreadState.Unstarted) == 0)
        {
            _receiver.Join(TimeSpan.FromSeconds(5)); // started only for acks other than 0
        }
    }

    private void SendLoop()
    {
        try
        {
            var batch = new ProduceBatchWriter(_options.BatchBytes, _options.RecordBytes);
            batch.Reset(TakePartition());
            var lingerNanos = (long)(_options.LingerMs * 1e6);
            var nanosPerRecord = _ratePerSecond > 0 ? 1e9 / _ratePerSecond : 0;
            long i = 0;
            while (i < _recordQuota && !_stopping)
            {
                var now = MonotonicClock.NowNanos();
                if (now > _deadlineNanos)
                {
                    StoppedByTime = true;
                    break;
                }

                if (nanosPerRecord == 0)
                {
                    batch.Add(WallMs(now), now);
                    i++;
                    if (batch.IsFull)
                    {
                        SendBatch(batch);
                    }

                    continue;
                }

                var due = Math.Min(_recordQuota, (long)((now - _startNanos) / nanosPerRecord) + 1);
                if (i >= due)
                {
                    if (batch.Count > 0 && now - batch.FirstRecordNanos >= lingerNanos)
                    {
                        SendBatch(batch);
                    }

                    // Sleep until the record that fills this batch falls due, or until its linger ends, and then add
                    // every record that fell due meanwhile, each stamped with its scheduled time. So a batch leaves
                    // when it fills, as a client's does; sleeping a whole millisecond at a time (the resolution of
                    // Thread.Sleep) sent the batches that filled meanwhile in bursts, 4-5 requests at once at 570 MB/s.
                    var fillsAt = _startNanos + (long)((i + batch.RecordsUntilFull - 1) * nanosPerRecord);
                    var wakeAt = batch.Count > 0 ? Math.Min(fillsAt, batch.FirstRecordNanos + lingerNanos) : fillsAt;
                    PreciseSleep.Until(Math.Clamp(wakeAt, now + PreciseSleep.NanosMin, now + PreciseSleep.NanosMax));
                    continue;
                }

                for (; i < due; i++)
                {
                    var scheduled = _startNanos + (long)(i * nanosPerRecord);
                    batch.Add(WallMs(scheduled), scheduled);
                    if (batch.IsFull)
                    {
                        SendBatch(batch);
                    }
                }
            }

            if (batch.Count > 0 && !_stopping)
            {
                SendBatch(batch);
            }
        }
        catch (Exception e) when (!_stopping)
        {
            Failure ??= $"producer send: {e.GetType().Name}: {e.Message}";
        }
        catch (Exception) when (_stopping)
        {
            // The connection was closed by Stop after the time limit.
        }
    }

    private void SendBatch(ProduceBatchWriter batch)
    {
        var records = batch.Seal();
        if (_options.Acks != 0)
        {
            while (!_inFlightSlots.Wait(100))
            {
                if (_stopping || MonotonicClock.NowNanos() > _deadlineNanos + DrainNanosMax)
                {
                    throw new TimeoutException("no in-flight slot freed before the time limit");
                }
            }
        }

        _partitionData.Index = batch.Partition;
        _partitionData.Records = records;
        var (correlationId, frame) = _connection.Encode(ApiKey.Produce, ProduceVersion, _request);
        var count = batch.Count;
        if (_options.Acks != 0)
        {
            // Queued before the write, so the receiver always finds the request its response belongs to.
            _inFlight.Enqueue(new InFlightBatch(correlationId, MonotonicClock.NowNanos(), count));
        }

        _connection.Send(frame.Span);
        Interlocked.Add(ref _recordsSent, count);
        BatchesSent++;
        RequestBytesSent += frame.Length;
        if (_options.Acks == 0)
        {
            Interlocked.Add(ref _recordsAcked, count);
            LastAckNanos = MonotonicClock.NowNanos();
        }

        batch.Reset(TakePartition());
    }

    private void ReceiveLoop()
    {
        try
        {
            while (!_stopping)
            {
                using var frame = _connection.Receive();
                var now = MonotonicClock.NowNanos();
                if (!_inFlight.TryDequeue(out var batch))
                {
                    throw new ProtocolException("a produce response arrived for no request in flight");
                }

                var response = KafkaConnection.Decode<ProduceResponse>(ApiKey.Produce, ProduceVersion, batch.CorrelationId, frame.Memory);
                var partition = response.Responses.Single().PartitionResponses.Single();
                if (partition.ErrorCode != 0)
                {
                    Interlocked.Add(ref _recordsFailed, batch.Records);
                    Failure ??= $"produce error {(ErrorCode)partition.ErrorCode}: {partition.ErrorMessage}";
                }
                else
                {
                    Interlocked.Add(ref _recordsAcked, batch.Records);
                }

                if (batch.SendNanos >= _startNanos + _options.WarmupNanos)
                {
                    BatchLatency.Record(now - batch.SendNanos);
                    if (RequestLog is { } log)
                    {
                        if (log.Count < RequestLogEntriesMax)
                        {
                            log.Add((batch.SendNanos, now - batch.SendNanos));
                        }
                        else
                        {
                            RequestLogDropped++;
                        }
                    }
                }

                LastAckNanos = now;
                _inFlightSlots.Release();
            }
        }
        catch (Exception e) when (!_stopping)
        {
            Failure ??= $"producer receive: {e.GetType().Name}: {e.Message}";
        }
        catch (Exception) when (_stopping)
        {
            // Stop closed the connection under the blocking receive: the normal way out.
        }
    }

    private int TakePartition()
    {
        var partition = _nextPartition;
        _nextPartition = (_nextPartition + 1) % _options.Partitions;
        return partition;
    }

    private long WallMs(long monotonicNanos) => _wallStartMs + ((monotonicNanos - _startNanos) / 1_000_000);

    private readonly record struct InFlightBatch(int CorrelationId, long SendNanos, int Records);
}
