using System.Buffers;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Storage.Devices;

namespace Tributary.Broker.Tests.Faults;

/// <summary>
/// One seeded run: random admin changes, produces (plain, idempotent), offset commits and transactions through the
/// real handlers while the disk (logs, metadata, producer id checkpoint) fails at seeded points; then the faults
/// stop, the broker is closed, killed or loses power (unsynced bytes gone, only when every message is fsynced before
/// it is acknowledged), a new broker starts on the same disk, and what it serves is checked against a model of what
/// was acknowledged. A few such cycles per seed; <see cref="Trace"/> lists the last operations and faults for a failure.
/// </summary>
internal sealed class FaultRun : IDisposable
{
    /// <summary>Never deleted: offset commits name it, so a deletion never takes them away.</summary>
    private const string KeptTopic = "kept";
    private const string TransactionalId = "tx";
    private const int TransactionTimeoutMs = 10_000;
    private static readonly string[] PoolTopics = ["t0", "t1"];
    private static readonly string[] Groups = ["g0", "g1"];

    private readonly Random _random;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tributary-fault-runs", Guid.NewGuid().ToString("N"));
    private readonly MemoryLogDevice _disk = new();
    private readonly ManualTimeProvider _time = new();
    private readonly BrokerConfig _config;
    private readonly bool _syncEveryMessage;
    private readonly double _failureRate;
    private readonly List<string> _trace = [];

    private readonly Dictionary<string, TopicModel> _topics = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Group, int Partition), CommitModel> _commits = [];
    private readonly List<TransactionModel> _transactions = [];

    private FaultInjectingDevice _device;
    private BrokerCore _broker;
    private Producer? _idempotent;
    private Producer? _transactional;
    private int _nextValue;
    private int _correlationId;

    public FaultRun(int seed)
    {
        _random = new Random(seed);
        _syncEveryMessage = _random.Next(3) == 0;
        _failureRate = new[] { 0.01, 0.03, 0.08 }[_random.Next(3)];
        var settings = new List<KeyValuePair<string, string>> { new("log.dirs", _directory) };
        if (_syncEveryMessage)
        {
            settings.Add(new("log.flush.interval.messages", "1"));
        }

        var (config, errors) = BrokerConfig.Parse(settings);
        Assert.Empty(errors);
        _config = config!;
        Directory.CreateDirectory(_directory);
        _device = new FaultInjectingDevice(_disk, new Random(seed ^ 0x5eed)) { Injected = _trace.Add };
        _broker = new BrokerCore(_config, _time, device: _device);
        _broker.CreateTopic(KeptTopic, 2, new Dictionary<string, string>());
        Observe(KeptTopic);
    }

    /// <summary>The last operations, for a failure message.</summary>
    public string Trace => string.Join("\n", _trace.TakeLast(60));

    public int FaultsInjected { get; private set; }

    public async Task RunAsync()
    {
        var cycles = 1 + _random.Next(3);
        for (var cycle = 0; cycle < cycles; cycle++)
        {
            _device.FailureRate = _failureRate;
            var steps = 15 + _random.Next(30);
            for (var step = 0; step < steps; step++)
            {
                await StepAsync();
            }

            _device.FailureRate = 0;
            FaultsInjected += _device.FaultsInjected;
            Restart();
            await VerifyAsync();
        }
    }

    public void Dispose()
    {
        _device.FailureRate = 0;
        _broker.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private Task StepAsync() => _random.Next(100) switch
    {
        < 8 => CreateTopicAsync(),
        < 14 => DeleteTopicAsync(),
        < 20 => CreatePartitionsAsync(),
        < 27 => AlterConfigsAsync(),
        < 50 => ProducePlainAsync(),
        < 68 => ProduceIdempotentAsync(),
        < 80 => CommitOffsetAsync(),
        _ => TransactionAsync(),
    };

    // ---- Restart ----

    private void Restart()
    {
        var mode = _random.Next(_syncEveryMessage ? 3 : 2);
        var how = mode switch { 0 => "closed", 1 => "killed", _ => "lost power" };
        _trace.Add($"broker {how}; restart");
        if (mode == 0)
        {
            _broker.Dispose();
        }
        else
        {
            // Nothing the dead process would still do reaches the disk; its objects are dropped.
            _device.Crash();
            try
            {
                _broker.Dispose();
            }
            catch (IOException)
            {
            }

            if (mode == 2)
            {
                _disk.DiscardUnflushed();
            }
        }

        if (_random.Next(3) == 0)
        {
            StartOnFailingDisk();
        }

        _device = new FaultInjectingDevice(_disk, new Random(_random.Next())) { Injected = _trace.Add };
        _broker = new BrokerCore(_config, _time, device: _device);
        _idempotent = null;
        _transactional = null;

        // Transactions the run left open time out and are aborted, as Kafka's coordinator does.
        _time.Advance(TimeSpan.FromMilliseconds(TransactionTimeoutMs * 2));
    }

    /// <summary>
    /// A start (recovery) while the disk fails, then that broker is killed or closed: whatever it managed, and whether it
    /// started at all, the next start must find every acknowledged change. A start may refuse with an I/O error.
    /// </summary>
    private void StartOnFailingDisk()
    {
        var device = new FaultInjectingDevice(_disk, new Random(_random.Next())) { Injected = _trace.Add, FailureRate = _failureRate * 2 };
        var kill = _random.Next(2) == 0;
        try
        {
            var broker = new BrokerCore(_config, _time, device: device);
            _trace.Add($"started on a failing disk; {(kill ? "killed" : "closed")}");
            if (kill)
            {
                device.Crash();
            }

            try
            {
                broker.Dispose();
            }
            catch (IOException)
            {
            }
        }
        catch (IOException e)
        {
            _trace.Add($"start on a failing disk refused: {e.Message}");
        }

        FaultsInjected += device.FaultsInjected;
    }

    // ---- Admin ----

    private async Task CreateTopicAsync()
    {
        var name = PoolTopics[_random.Next(PoolTopics.Length)];
        var topic = new CreateTopicsRequest.CreatableTopic { Name = name, NumPartitions = 1 + _random.Next(3), ReplicationFactor = -1 };
        if (_random.Next(2) == 0)
        {
            topic.Configs.Add(new CreateTopicsRequest.CreatableTopicConfig { Name = "segment.bytes", Value = RandomSegmentBytes() });
        }

        var response = await SendAsync(new CreateTopicsHandler(_broker), new CreateTopicsRequest { Topics = [topic] }, 7);
        var error = (ErrorCode)Assert.Single(response.Topics).ErrorCode;
        Record($"CreateTopics {name} x{topic.NumPartitions}", error);
        if (error == ErrorCode.None)
        {
            Assert.False(_topics.ContainsKey(name), $"{name} was created again while it existed");
        }

        Observe(name);
    }

    private async Task DeleteTopicAsync()
    {
        var name = PoolTopics[_random.Next(PoolTopics.Length)];
        var response = await SendAsync(new DeleteTopicsHandler(_broker), new DeleteTopicsRequest { TopicNames = [name] }, 5);
        var error = (ErrorCode)Assert.Single(response.Responses).ErrorCode;
        Record($"DeleteTopics {name}", error);
        if (error == ErrorCode.None)
        {
            Assert.Null(_broker.Metadata.Find(name));
        }

        Observe(name);
    }

    private async Task CreatePartitionsAsync()
    {
        if (RandomTopic() is not { } topic)
        {
            return;
        }

        var count = topic.PartitionCount + 1 + _random.Next(2);
        var request = new CreatePartitionsRequest { Topics = [new CreatePartitionsRequest.CreatePartitionsTopic { Name = topic.Name, Count = count, Assignments = null }] };
        var error = (ErrorCode)Assert.Single((await SendAsync(new CreatePartitionsHandler(_broker), request, 3)).Results).ErrorCode;
        Record($"CreatePartitions {topic.Name} to {count}", error);
        Observe(topic.Name);
        if (error == ErrorCode.None)
        {
            Assert.Equal(count, _topics[topic.Name].PartitionCount);
        }
    }

    private async Task AlterConfigsAsync()
    {
        if (RandomTopic() is not { } topic)
        {
            return;
        }

        var (key, value) = _random.Next(3) switch
        {
            0 => ("segment.bytes", RandomSegmentBytes()),
            1 => ("max.message.bytes", (100_000 + _random.Next(100_000)).ToString(System.Globalization.CultureInfo.InvariantCulture)),
            _ => ("retention.ms", _random.Next(2) == 0 ? "-1" : "604800000"),
        };
        var request = new IncrementalAlterConfigsRequest
        {
            Resources = [new IncrementalAlterConfigsRequest.AlterConfigsResource
            {
                ResourceType = 2,
                ResourceName = topic.Name,
                Configs = [new IncrementalAlterConfigsRequest.AlterableConfig { Name = key, ConfigOperation = 0, Value = value }],
            }],
        };
        var error = (ErrorCode)Assert.Single((await SendAsync(new IncrementalAlterConfigsHandler(_broker), request, 1)).Responses).ErrorCode;
        Record($"IncrementalAlterConfigs {topic.Name} {key}={value}", error);
        Observe(topic.Name);
        if (error == ErrorCode.None)
        {
            Assert.Equal(value, _topics[topic.Name].Configs[key]);
        }
    }

    private string RandomSegmentBytes() => new[] { "1024", "4096", "1048576" }[_random.Next(3)];

    /// <summary>Takes the broker's current view of a topic into the model: after a refused change it may or may not have happened.</summary>
    private void Observe(string name)
    {
        var stored = _broker.Metadata.Find(name);
        if (stored is null)
        {
            _topics.Remove(name);
            return;
        }

        if (!_topics.TryGetValue(name, out var model) || model.Id != stored.Id)
        {
            model = new TopicModel(name, stored.Id);
            _topics[name] = model;
        }

        while (model.Partitions.Count < stored.PartitionCount)
        {
            model.Partitions.Add(new PartitionModel());
        }

        model.Configs = new Dictionary<string, string>(stored.Configs, StringComparer.Ordinal);
    }

    private TopicModel? RandomTopic()
    {
        var topics = _topics.Values.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        return topics[_random.Next(topics.Count)];
    }

    // ---- Produce ----

    private byte[] NewBatch(List<string> values, Producer? producer = null, int sequence = -1, bool transactional = false)
    {
        var builder = new RecordBatchBuilder
        {
            ProducerId = producer?.Id ?? -1,
            ProducerEpoch = producer?.Epoch ?? -1,
            BaseSequence = sequence,
            IsTransactional = transactional,
        };
        var count = 1 + _random.Next(3);
        for (var i = 0; i < count; i++)
        {
            var value = $"v{_nextValue++}";
            values.Add(value);
            builder.Add(_time.NowMs, null, Encoding.UTF8.GetBytes(value));
        }

        return builder.Build();
    }

    private async Task<(ErrorCode Error, long BaseOffset)> ProduceAsync(TopicModel topic, int partition, byte[] batch, string? transactionalId = null)
    {
        var request = new ProduceRequest
        {
            TransactionalId = transactionalId,
            Acks = -1,
            TimeoutMs = 1000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = topic.Name, PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = batch.ToArray() }] }],
        };
        var response = await SendAsync(new ProduceHandler(_broker, NullLogger<ProduceHandler>.Instance), request, 9);
        var result = Assert.Single(Assert.Single(response.Responses).PartitionResponses);
        return ((ErrorCode)result.ErrorCode, result.BaseOffset);
    }

    /// <summary>Acknowledged values have their offsets; the others may or may not be in the log.</summary>
    private static void Remember(PartitionModel partition, List<string> values, ErrorCode error, long baseOffset)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (error == ErrorCode.None)
            {
                if (partition.Acked.TryGetValue(baseOffset + i, out var other) && other != values[i])
                {
                    Assert.Fail($"offset {baseOffset + i} was acknowledged for {other} and again for {values[i]}");
                }

                partition.Acked[baseOffset + i] = values[i];
                partition.Maybe.Remove(values[i]);
            }
            else if (!partition.Acked.ContainsValue(values[i]))
            {
                partition.Maybe.Add(values[i]);
            }
        }
    }

    private async Task ProducePlainAsync()
    {
        if (RandomTopic() is not { } topic)
        {
            return;
        }

        var partition = _random.Next(topic.PartitionCount);
        var values = new List<string>();
        var (error, baseOffset) = await ProduceAsync(topic, partition, NewBatch(values));
        Record($"Produce {topic.Name}-{partition} {string.Join(",", values)}", error, baseOffset);
        Remember(topic.Partitions[partition], values, error, baseOffset);
    }

    private async Task ProduceIdempotentAsync()
    {
        _idempotent ??= await InitProducerAsync(null);
        if (_idempotent is not { } producer || RandomTopic() is not { } topic)
        {
            return;
        }

        var partition = _random.Next(topic.PartitionCount);
        var values = new List<string>();
        var sequence = producer.Sequence(topic, partition);
        var batch = NewBatch(values, producer, sequence);
        topic.Partitions[partition].ExactlyOnce.UnionWith(values);

        // Retried as a client does: a retry of a batch that was appended answers with the first append's offsets.
        var (error, baseOffset) = (ErrorCode.None, -1L);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            (error, baseOffset) = await ProduceAsync(topic, partition, batch);
            Record($"Produce idempotent {topic.Name}-{partition} seq {sequence} {string.Join(",", values)}", error, baseOffset);
            if (error == ErrorCode.None)
            {
                break;
            }
        }

        Remember(topic.Partitions[partition], values, error, baseOffset);
        if (error == ErrorCode.None)
        {
            producer.Advance(topic, partition, values.Count);
        }
        else
        {
            // The client gives up on this producer id: its sequence may or may not have moved.
            _idempotent = null;
        }
    }

    private async Task<Producer?> InitProducerAsync(string? transactionalId)
    {
        var request = new InitProducerIdRequest { TransactionalId = transactionalId, TransactionTimeoutMs = TransactionTimeoutMs, ProducerId = -1, ProducerEpoch = -1 };
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var response = await SendAsync(new InitProducerIdHandler(_broker), request, 5);
            Record($"InitProducerId {transactionalId}", (ErrorCode)response.ErrorCode, response.ProducerId);
            if (response.ErrorCode == 0)
            {
                return new Producer(response.ProducerId, response.ProducerEpoch);
            }
        }

        return null;
    }

    // ---- Transactions ----

    private async Task TransactionAsync()
    {
        _transactional ??= await InitProducerAsync(TransactionalId);
        if (_transactional is not { } producer)
        {
            return;
        }

        var transaction = new TransactionModel();
        _transactions.Add(transaction);
        var ok = true;
        var partitions = Enumerable.Range(0, 1 + _random.Next(2)).Select(_ => RandomTopic()).OfType<TopicModel>()
            .Select(t => (Topic: t, Partition: _random.Next(t.PartitionCount))).Distinct().ToList();
        foreach (var (topic, partition) in partitions)
        {
            var add = await SendAsync(new AddPartitionsToTxnHandler(_broker), new AddPartitionsToTxnRequest
            {
                V3AndBelowTransactionalId = TransactionalId,
                V3AndBelowProducerId = producer.Id,
                V3AndBelowProducerEpoch = producer.Epoch,
                V3AndBelowTopics = [new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic { Name = topic.Name, Partitions = [partition] }],
            }, 3);
            var error = (ErrorCode)Assert.Single(Assert.Single(add.ResultsByTopicV3AndBelow).ResultsByPartition).PartitionErrorCode;
            Record($"AddPartitionsToTxn {topic.Name}-{partition}", error);
            if (error != ErrorCode.None)
            {
                ok = false;
                break;
            }

            var values = new List<string>();
            var sequence = producer.Sequence(topic, partition);
            var batch = NewBatch(values, producer, sequence, transactional: true);
            topic.Partitions[partition].ExactlyOnce.UnionWith(values);
            var (produced, baseOffset) = (ErrorCode.None, -1L);
            for (var attempt = 0; attempt < 3; attempt++)
            {
                (produced, baseOffset) = await ProduceAsync(topic, partition, batch, TransactionalId);
                Record($"Produce transactional {topic.Name}-{partition} seq {sequence} {string.Join(",", values)}", produced, baseOffset);
                if (produced == ErrorCode.None)
                {
                    break;
                }
            }

            Remember(topic.Partitions[partition], values, produced, baseOffset);
            transaction.Values.AddRange(values.Select(v => (topic, partition, v)));
            if (produced != ErrorCode.None)
            {
                ok = false;
                break;
            }

            producer.Advance(topic, partition, values.Count);
        }

        // A client aborts after any failure; otherwise it commits or aborts as the application decides.
        var commit = ok && _random.Next(3) != 0;
        var end = (ErrorCode)(await SendAsync(new EndTxnHandler(_broker), new EndTxnRequest
        {
            TransactionalId = TransactionalId,
            ProducerId = producer.Id,
            ProducerEpoch = producer.Epoch,
            Committed = commit,
        }, 4)).ErrorCode;
        Record($"EndTxn {(commit ? "commit" : "abort")}", end);
        transaction.Outcome = end == ErrorCode.None ? (commit ? Outcome.Committed : Outcome.Aborted) : commit ? Outcome.Unknown : Outcome.Aborted;
        if (end != ErrorCode.None || !ok)
        {
            // The client starts over with InitProducerId, which completes or aborts what is left and, with a new epoch,
            // lets it reuse the sequence numbers of batches whose fate it does not know.
            _transactional = null;
        }
    }

    // ---- Offsets ----

    private async Task CommitOffsetAsync()
    {
        var group = Groups[_random.Next(Groups.Length)];
        var partition = _random.Next(2);
        var model = _commits.TryGetValue((group, partition), out var existing) ? existing : _commits[(group, partition)] = new CommitModel();
        var offset = (long)_nextValue++;
        var response = await SendAsync(new OffsetCommitHandler(_broker), new OffsetCommitRequest
        {
            GroupId = group,
            GenerationIdOrMemberEpoch = -1,
            MemberId = "",
            Topics = [new OffsetCommitRequest.OffsetCommitRequestTopic
            {
                Name = KeptTopic,
                Partitions = [new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = partition, CommittedOffset = offset }],
            }],
        }, 9);
        var error = (ErrorCode)Assert.Single(Assert.Single(response.Topics).Partitions).ErrorCode;
        Record($"OffsetCommit {group} {KeptTopic}-{partition} {offset}", error);
        if (error == ErrorCode.None)
        {
            model.Acked = offset;
            model.Maybe.Clear();
        }
        else
        {
            model.Maybe.Add(offset);
        }
    }

    // ---- Verification after a restart ----

    private async Task VerifyAsync()
    {
        var stored = _broker.Metadata.Topics.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var user = stored.Keys.Where(n => !n.StartsWith("__", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
        Assert.True(user.SequenceEqual(_topics.Keys.Order(StringComparer.Ordinal)),
            $"topics after the restart: {string.Join(",", user)}; acknowledged or seen: {string.Join(",", _topics.Keys.Order(StringComparer.Ordinal))}");
        foreach (var model in _topics.Values)
        {
            var topic = stored[model.Name];
            Assert.True(model.Id == topic.Id, $"{model.Name} has another id after the restart");
            Assert.True(model.Partitions.Count == topic.PartitionCount, $"{model.Name} has {topic.PartitionCount} partitions after the restart, {model.Partitions.Count} before");
            Assert.True(model.Configs.OrderBy(c => c.Key).SequenceEqual(topic.Configs.OrderBy(c => c.Key)),
                $"{model.Name}'s configs after the restart: {string.Join(",", topic.Configs)}; before: {string.Join(",", model.Configs)}");
            for (var p = 0; p < model.Partitions.Count; p++)
            {
                await VerifyPartitionAsync(model, p);
            }
        }

        foreach (var transaction in _transactions)
        {
            // Resolved now: a restart has completed or aborted it.
            transaction.Resolved = true;
        }

        foreach (var ((group, partition), model) in _commits)
        {
            var fetched = await FetchOffsetAsync(group, partition);
            Assert.True(fetched == model.Acked || model.Maybe.Contains(fetched),
                $"group {group} {KeptTopic}-{partition}: committed offset {fetched} after the restart; acknowledged {model.Acked}, unacknowledged attempts {string.Join(",", model.Maybe)}");
            model.Acked = fetched;
            model.Maybe.Clear();
        }
    }

    private async Task VerifyPartitionAsync(TopicModel topic, int partition)
    {
        var model = topic.Partitions[partition];
        var where = $"{topic.Name}-{partition}";
        var (all, _, highWatermark, lastStable) = await ReadAsync(topic.Name, partition, readCommitted: false);
        foreach (var (offset, value) in model.Acked)
        {
            Assert.True(all.TryGetValue(offset, out var read), $"{where}: acknowledged {value} at offset {offset} is missing after the restart (high watermark {highWatermark})");
            Assert.True(read == value, $"{where}: offset {offset} holds {read} after the restart; {value} was acknowledged there");
        }

        var seen = new HashSet<string>();
        foreach (var (offset, value) in all)
        {
            Assert.True(model.Acked.ContainsValue(value) || model.Maybe.Contains(value), $"{where}: offset {offset} holds {value}, which was never produced to this partition");
            Assert.True(!model.ExactlyOnce.Contains(value) || seen.Add(value), $"{where}: {value} of an idempotent producer is stored twice");
        }

        Assert.True(lastStable == highWatermark, $"{where}: last stable offset {lastStable} is below the high watermark {highWatermark} after every transaction timed out");
        var (_, visible, _, _) = await ReadAsync(topic.Name, partition, readCommitted: true);
        foreach (var transaction in _transactions.Where(t => !t.Resolved))
        {
            var mine = transaction.Values.Where(v => v.Topic == topic && v.Partition == partition).Select(v => v.Value).ToList();
            var shown = mine.Count(visible.Contains);
            var acked = mine.Where(model.Acked.ContainsValue).ToList();
            switch (transaction.Outcome)
            {
                case Outcome.Committed:
                    Assert.True(acked.All(visible.Contains), $"{where}: committed transactional values {string.Join(",", acked.Where(v => !visible.Contains(v)))} are not visible to read_committed");
                    break;
                case Outcome.Aborted:
                    Assert.True(shown == 0, $"{where}: aborted transactional values {string.Join(",", mine.Where(visible.Contains))} are visible to read_committed");
                    break;
                default:
                    Assert.True(shown == 0 || acked.All(visible.Contains), $"{where}: a transaction whose commit was not acknowledged is only partly visible");
                    break;
            }
        }

        // What survived is what the next cycle's model starts from.
        model.Acked.Clear();
        foreach (var (offset, value) in all)
        {
            model.Acked[offset] = value;
        }

        model.Maybe.Clear();
    }

    /// <summary>Every data record of the partition by offset (CRCs checked), the values read_committed shows, the high watermark and last stable offset.</summary>
    private async Task<(SortedDictionary<long, string> Records, HashSet<string> Visible, long HighWatermark, long LastStable)> ReadAsync(string topic, int partition, bool readCommitted)
    {
        var records = new SortedDictionary<long, string>();
        var visible = new HashSet<string>();
        var abortedProducers = new HashSet<long>();
        long offset = 0;
        while (true)
        {
            var request = new FetchRequest
            {
                MaxWaitMs = 0,
                MinBytes = 0,
                MaxBytes = 1 << 20,
                IsolationLevel = readCommitted ? (sbyte)1 : (sbyte)0,
                Topics = [new FetchRequest.FetchTopic { Topic = topic, Partitions = [new FetchRequest.FetchPartition { Partition = partition, FetchOffset = offset, PartitionMaxBytes = 1 << 20 }] }],
            };
            var data = Assert.Single(Assert.Single((await SendAsync(new FetchHandler(_broker), request, 12)).Responses).Partitions);
            Assert.True(data.ErrorCode == 0, $"{topic}-{partition}: fetch at {offset} after the restart answered {(ErrorCode)data.ErrorCode}");
            var end = readCommitted ? data.LastStableOffset : data.HighWatermark;
            var aborted = (data.AbortedTransactions ?? []).Select(a => (a.ProducerId, a.FirstOffset)).ToList();
            var remaining = data.Records ?? ReadOnlyMemory<byte>.Empty;
            var before = offset;
            while (remaining.Length >= RecordBatchHeader.Size && RecordBatchHeader.Read(remaining.Span) is var header && header.TotalSize <= remaining.Length)
            {
                var batch = RecordBatch.Read(remaining[..header.TotalSize]);
                remaining = remaining[header.TotalSize..];
                Assert.True(batch.IsCrcValid, $"{topic}-{partition}: the batch at offset {header.BaseOffset} fails its CRC");
                foreach (var (producerId, _) in aborted.Where(a => a.FirstOffset <= header.BaseOffset).ToList())
                {
                    abortedProducers.Add(producerId);
                    aborted.RemoveAll(a => a.ProducerId == producerId && a.FirstOffset <= header.BaseOffset);
                }

                offset = header.NextOffset;
                if (header.IsControl)
                {
                    abortedProducers.Remove(header.ProducerId);
                    continue;
                }

                var hidden = readCommitted && header.IsTransactional && abortedProducers.Contains(header.ProducerId);
                foreach (var record in batch.Records)
                {
                    var value = Encoding.UTF8.GetString(record.Value!.Value.Span);
                    records[header.BaseOffset + record.OffsetDelta] = value;
                    if (!hidden)
                    {
                        visible.Add(value);
                    }
                }
            }

            if (offset >= end || offset == before)
            {
                Assert.True(offset >= end, $"{topic}-{partition}: reading stopped at {offset}, below {end}");
                return (records, visible, data.HighWatermark, data.LastStableOffset);
            }
        }
    }

    private async Task<long> FetchOffsetAsync(string group, int partition)
    {
        var response = await SendAsync(new OffsetFetchHandler(_broker), new OffsetFetchRequest
        {
            Groups = [new OffsetFetchRequest.OffsetFetchRequestGroup
            {
                GroupId = group,
                Topics = [new OffsetFetchRequest.OffsetFetchRequestTopics { Name = KeptTopic, PartitionIndexes = [partition] }],
            }],
        }, 9);
        var result = Assert.Single(Assert.Single(Assert.Single(response.Groups).Topics).Partitions);
        Assert.True(result.ErrorCode == 0, $"OffsetFetch {group} after the restart answered {(ErrorCode)result.ErrorCode}");
        return result.CommittedOffset;
    }

    // ---- Requests ----

    /// <summary>
    /// A request through the handler's byte entry point and back through the wire encoding, once its second stage (a
    /// produce's fsync) is done, as a connection sends it. A handler that throws, or answers UNKNOWN_SERVER_ERROR
    /// anywhere, fails the run: an injected disk fault must be answered with KAFKA_STORAGE_ERROR or the API's own error.
    /// </summary>
    private async Task<TResponse> SendAsync<TRequest, TResponse>(ApiHandler<TRequest, TResponse> handler, TRequest request, short version)
        where TRequest : class, IKafkaMessage<TRequest>
        where TResponse : class, IKafkaMessage<TResponse>
    {
        var context = new RequestContext(handler.Key, version, ++_correlationId, "fault-run", new ConnectionInfo("fault-run", null));
        HandlerResult result;
        try
        {
            result = await handler.HandleAsync(context, Encode(request, version), CancellationToken.None);
            if (result.Durable is { } durable)
            {
                await durable;
            }
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"{handler.Key} threw (the connection would answer UNKNOWN_SERVER_ERROR): {e}", e);
        }

        var bytes = Encode(Assert.IsType<TResponse>(result.Response), version);
        result.Buffers?.Release();
        var reader = new KafkaReader(bytes);
        var response = TResponse.Read(ref reader, version);
        Assert.False(AnswersUnknownServerError(response), $"{handler.Key} answered UNKNOWN_SERVER_ERROR");
        return response;
    }

    /// <summary>Whether any error code field of the response, at any depth, is UNKNOWN_SERVER_ERROR.</summary>
    private static bool AnswersUnknownServerError(object message)
    {
        foreach (var property in message.GetType().GetProperties())
        {
            var value = property.GetValue(message);
            var found = value switch
            {
                short code => property.Name.EndsWith("ErrorCode", StringComparison.Ordinal) && code == (short)ErrorCode.UnknownServerError,
                System.Collections.IList items => items.Cast<object>().Any(i => i.GetType().Namespace == typeof(ProduceResponse).Namespace && AnswersUnknownServerError(i)),
                not null when value.GetType().Namespace == typeof(ProduceResponse).Namespace => AnswersUnknownServerError(value),
                _ => false,
            };
            if (found)
            {
                return true;
            }
        }

        return false;
    }

    private static byte[] Encode(IKafkaMessage message, short version)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        message.Write(ref writer, version);
        return buffer.WrittenSpan.ToArray();
    }

    private void Record(string operation, ErrorCode error, long offset = -1) =>
        _trace.Add(error == ErrorCode.None && offset >= 0 ? $"{operation} -> at {offset}" : $"{operation} -> {error}");

    // ---- Model ----

    private sealed class TopicModel(string name, Guid id)
    {
        public string Name { get; } = name;

        public Guid Id { get; } = id;

        public List<PartitionModel> Partitions { get; } = [];

        public int PartitionCount => Partitions.Count;

        public Dictionary<string, string> Configs { get; set; } = [];
    }

    private sealed class PartitionModel
    {
        /// <summary>Acknowledged records: each must be read at its offset with its value.</summary>
        public Dictionary<long, string> Acked { get; } = [];

        /// <summary>Values of refused produces: they may be in the log or not.</summary>
        public HashSet<string> Maybe { get; } = new(StringComparer.Ordinal);

        /// <summary>Values of idempotent and transactional producers: never stored twice.</summary>
        public HashSet<string> ExactlyOnce { get; } = new(StringComparer.Ordinal);
    }

    private sealed class CommitModel
    {
        public long Acked { get; set; } = -1;

        public HashSet<long> Maybe { get; } = [];
    }

    private enum Outcome
    {
        Unknown,
        Committed,
        Aborted,
    }

    private sealed class TransactionModel
    {
        public List<(TopicModel Topic, int Partition, string Value)> Values { get; } = [];

        public Outcome Outcome { get; set; }

        public bool Resolved { get; set; }
    }

    /// <summary>A producer id and epoch with the next sequence per partition (by topic id: a recreated topic starts at 0).</summary>
    private sealed class Producer(long id, short epoch)
    {
        private readonly Dictionary<(Guid, int), int> _sequences = [];

        public long Id { get; } = id;

        public short Epoch { get; } = epoch;

        public int Sequence(TopicModel topic, int partition) => _sequences.GetValueOrDefault((topic.Id, partition));

        public void Advance(TopicModel topic, int partition, int records) => _sequences[(topic.Id, partition)] = Sequence(topic, partition) + records;
    }
}
