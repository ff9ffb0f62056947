using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server.Client;
using Tributary.Server.Networking;

namespace Tributary.Server.Tests;

/// <summary>
/// Tributary's socket transport under Kestrel, over real loopback sockets: frames larger than its buffers, pipelined
/// requests, clients that vanish mid-frame or stop reading, stopping with connections open; and its block pool.
/// </summary>
public sealed class SocketTransportTests
{
    [Fact]
    public async Task AProduceRequestSeveralTimesTheInputBufferIsReceivedWholeAndAnswered()
    {
        var options = new TributaryBrokerOptions();
        options.Topics["large"] = 4;
        await using var broker = await TributaryBroker.StartAsync(options);
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);

        // Four partitions of ~900 KB each: one 3.6 MB frame, 3.4 times the transport's 1 MiB input limit.
        var partitions = new List<ProduceRequest.PartitionProduceData>();
        for (var p = 0; p < 4; p++)
        {
            var builder = new RecordBatchBuilder();
            var value = new byte[900_000];
            value.AsSpan().Fill((byte)('a' + p));
            builder.Add(1_700_000_000_000, null, value, null);
            partitions.Add(new ProduceRequest.PartitionProduceData { Index = p, Records = builder.Build() });
        }

        var request = new ProduceRequest { Acks = 1, TimeoutMs = 10_000, TopicData = [new ProduceRequest.TopicProduceData { Name = "large", PartitionData = partitions }] };
        Assert.True(KafkaWireClient.Encode(ApiKey.Produce, 9, 1, null, request).Length > 3 * SocketTransportLimits.Default.InputBufferBytesMax);

        var response = await client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 9, request).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(response.Responses[0].PartitionResponses, r => Assert.Equal((short)0, r.ErrorCode));
        for (var p = 0; p < 4; p++)
        {
            var values = await WireRoundTrip.FetchValuesAsync(client, "large", p, 0);
            Assert.Equal(new string((char)('a' + p), 900_000), Assert.Single(values));
        }
    }

    [Theory]
    [InlineData(4)] // records are the response's last bytes
    [InlineData(11)]
    [InlineData(12)] // flexible: tagged fields follow the records
    public async Task AFetchOfLargeStoredBatchesFromSeveralPartitionsReturnsTheProducedBytesInOrder(short version)
    {
        var options = new TributaryBrokerOptions { InMemory = false };
        options.Topics["stored"] = 3;
        await using var broker = await TributaryBroker.StartAsync(options);
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var expected = new Dictionary<int, List<string>>();
        for (var round = 0; round < 3; round++)
        {
            var partitions = new List<ProduceRequest.PartitionProduceData>();
            for (var p = 0; p < 3; p++)
            {
                var builder = new RecordBatchBuilder();
                for (var i = 0; i < 30; i++)
                {
                    var value = $"{p}-{round}-{i}-" + new string((char)('a' + i % 26), 1000);
                    (expected.TryGetValue(p, out var list) ? list : expected[p] = []).Add(value);
                    builder.Add(1_700_000_000_000, null, System.Text.Encoding.UTF8.GetBytes(value), null);
                }

                partitions.Add(new ProduceRequest.PartitionProduceData { Index = p, Records = builder.Build() });
            }

            var produced = await client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 9, new ProduceRequest
            {
                Acks = 1,
                TimeoutMs = 10_000,
                TopicData = [new ProduceRequest.TopicProduceData { Name = "stored", PartitionData = partitions }],
            });
            Assert.All(produced.Responses[0].PartitionResponses, r => Assert.Equal((short)0, r.ErrorCode));
        }

        // Bytes the transport sends straight from the segment files (sendfile), counted while these fetches are answered.
        long sentFromFiles = 0;
        using var meter = new System.Diagnostics.Metrics.MeterListener();
        meter.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Tributary.Server" && instrument.Name == "tributary.sendfile.bytes")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meter.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "network.local.port" && tag.Value is int port && port == broker.Port)
                {
                    Interlocked.Add(ref sentFromFiles, value);
                }
            }
        });
        meter.Start();
        long recordBytes = 0;

        // Two fetches pipelined on one connection, each answering all three partitions from the segment files.
        var fetch = new FetchRequest
        {
            ReplicaId = -1,
            MaxBytes = 16 * 1024 * 1024,
            SessionEpoch = -1,
            Topics = [new FetchRequest.FetchTopic { Topic = "stored", Partitions = [.. Enumerable.Range(0, 3).Select(p => new FetchRequest.FetchPartition { Partition = p, PartitionMaxBytes = 4 * 1024 * 1024, LogStartOffset = -1 })] }],
        };
        await client.WriteRawAsync([.. KafkaWireClient.Encode(ApiKey.Fetch, version, 41, "t", fetch), .. KafkaWireClient.Encode(ApiKey.Fetch, version, 42, "t", fetch)]);
        foreach (var correlationId in new[] { 41, 42 })
        {
            var frame = await client.ReadFrameAsync().WaitAsync(TimeSpan.FromSeconds(30));
            var reader = new KafkaReader(frame);
            Assert.Equal(correlationId, ResponseHeader.Read(ref reader, version >= 12 ? (short)1 : (short)0).CorrelationId);
            var response = FetchResponse.Read(ref reader, version);
            Assert.True(reader.End);
            foreach (var partition in response.Responses.Single().Partitions)
            {
                Assert.Equal(0, partition.ErrorCode);
                var values = new List<string>();
                var records = partition.Records!.Value;
                recordBytes += records.Length;
                for (var position = 0; position < records.Length;)
                {
                    var batch = RecordBatch.Read(records[position..]);
                    foreach (var record in batch.Records)
                    {
                        values.Add(System.Text.Encoding.UTF8.GetString(record.Value!.Value.Span));
                    }

                    position += batch.Header.TotalSize;
                }

                Assert.Equal(expected[partition.PartitionIndex], values);
            }
        }

        // Every record byte went out from the files, none through the broker's buffers.
        Assert.True(Interlocked.Read(ref sentFromFiles) >= recordBytes, $"{sentFromFiles} bytes sent from files, {recordBytes} record bytes fetched");
    }

    [Fact]
    public async Task ManyPipelinedRequestsAreAnsweredInOrder()
    {
        await using var broker = await TributaryBroker.StartAsync();
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);

        // 500 ApiVersions requests written back to back before any answer is read: the answers span many blocks.
        var frames = ApiVersionsFrames(500, firstCorrelationId: 1000);

        await client.WriteRawAsync(frames);
        for (var i = 0; i < 500; i++)
        {
            var frame = await client.ReadFrameAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(1000 + i, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(frame));
        }
    }

    [Fact]
    public async Task AParkedFetchIsAnsweredWhenAnotherConnectionProducesWhileItsOwnConnectionHoldsAFullInputBuffer()
    {
        var options = new TributaryBrokerOptions();
        options.Topics["tail"] = 1;
        options.Topics["bulk"] = 1;
        await using var broker = await TributaryBroker.StartAsync(options);
        await using var consumer = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        await using var producer = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);

        // A fetch at the tail parks; behind it, on the same connection, 3.6 MB of produce requests, over three times
        // the transport's input limit: the connection's thread stops reading the socket and waits, and the fetch it
        // must resume first is woken from another connection's thread.
        var fetch = WireRoundTrip.Fetch("tail", 0, 0, maxWaitMs: 30_000);
        var frames = new List<byte>(KafkaWireClient.Encode(ApiKey.Fetch, 12, 1, "t", fetch));
        for (var i = 0; i < 4; i++)
        {
            var builder = new RecordBatchBuilder();
            builder.Add(1_700_000_000_000, null, new byte[900_000], null);
            var produce = new ProduceRequest
            {
                Acks = 1,
                TimeoutMs = 10_000,
                TopicData = [new ProduceRequest.TopicProduceData { Name = "bulk", PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = builder.Build() }] }],
            };
            frames.AddRange(KafkaWireClient.Encode(ApiKey.Produce, 9, 2 + i, "t", produce));
        }

        Assert.True(frames.Count > 3 * SocketTransportLimits.Default.InputBufferBytesMax);
        var writing = consumer.WriteRawAsync([.. frames]);
        await Task.Delay(300); // the fetch parks and the input fills
        Assert.Equal(0, (await WireRoundTrip.ProduceAsync(producer, "tail", 0, "woken")).Responses[0].PartitionResponses[0].ErrorCode);

        var fetched = await consumer.ReadFrameAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var reader = new KafkaReader(fetched);
        Assert.Equal(1, ResponseHeader.Read(ref reader, 1).CorrelationId);
        var partition = FetchResponse.Read(ref reader, 12).Responses[0].Partitions[0];
        Assert.Equal(0, partition.ErrorCode);
        var batch = RecordBatch.Read(partition.Records!.Value);
        var values = new List<byte[]>();
        foreach (var record in batch.Records)
        {
            values.Add(record.Value!.Value.ToArray());
        }

        Assert.Equal("woken"u8.ToArray(), Assert.Single(values));
        for (var i = 0; i < 4; i++)
        {
            var produced = await consumer.ReadFrameAsync().WaitAsync(TimeSpan.FromSeconds(30));
            reader = new KafkaReader(produced);
            Assert.Equal(2 + i, ResponseHeader.Read(ref reader, 1).CorrelationId); // Produce v9 is flexible
            Assert.Equal(0, ProduceResponse.Read(ref reader, 9).Responses[0].PartitionResponses[0].ErrorCode);
        }

        await writing.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task AParkedFetchOfAClientThatClosedItsSendingSideIsAnsweredAtItsDeadline()
    {
        var options = new TributaryBrokerOptions();
        options.Topics["quiet"] = 1;
        await using var broker = await TributaryBroker.StartAsync(options);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", broker.Port);
        var fetch = WireRoundTrip.Fetch("quiet", 0, 0, maxWaitMs: 300, maxBytes: 1024);

        // The connection's thread ends at the end of stream while the fetch waits: its deadline resumes it elsewhere.
        using var stream = new NetworkStream(socket);
        await socket.SendAsync(KafkaWireClient.Encode(ApiKey.Fetch, 12, 7, "t", fetch));
        socket.Shutdown(SocketShutdown.Send);
        var received = new MemoryStream();
        await stream.CopyToAsync(received).WaitAsync(TimeSpan.FromSeconds(30)); // to the broker's end of stream
        var bytes = received.ToArray();
        Assert.Equal(bytes.Length - 4, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes));
        var reader = new KafkaReader(bytes.AsMemory(4));
        Assert.Equal(7, ResponseHeader.Read(ref reader, 1).CorrelationId);
        var partition = FetchResponse.Read(ref reader, 12).Responses[0].Partitions[0];
        Assert.Equal(0, partition.ErrorCode);
        Assert.Equal(0, partition.Records?.Length ?? 0);
    }

    [Fact]
    public async Task AnswersWrittenBeforeTheBrokerClosesAConnectionStillReachTheClient()
    {
        await using var broker = await TributaryBroker.StartAsync();
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);

        // 50 valid requests, then a frame for an API that does not exist, all in one write: the broker answers the
        // 50, then closes the connection; the answers it wrote before closing are delivered, then the end of stream.
        var frames = ApiVersionsFrames(50, firstCorrelationId: 100);

        frames = [.. frames, 0, 0, 0, 10, 0x7D, 0x00, 0, 0, 0, 0, 0, 99, 0xFF, 0xFF]; // api key 32000, version 0, correlation id 99, null client id
        await client.WriteRawAsync(frames);
        for (var i = 0; i < 50; i++)
        {
            var frame = await client.ReadFrameAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(100 + i, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(frame));
        }

        await Assert.ThrowsAnyAsync<Exception>(() => client.ReadFrameAsync().WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task AClientThatClosesItsSendingSideStillGetsTheAnswersToWhatItSent()
    {
        await using var broker = await TributaryBroker.StartAsync();
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", broker.Port);
        var frames = ApiVersionsFrames(50, firstCorrelationId: 200);

        using var stream = new NetworkStream(socket);
        await socket.SendAsync(frames);
        socket.Shutdown(SocketShutdown.Send);

        var received = new MemoryStream();
        await stream.CopyToAsync(received).WaitAsync(TimeSpan.FromSeconds(30)); // to the broker's end of stream
        var bytes = received.ToArray();
        var correlationIds = new List<int>();
        for (var position = 0; position < bytes.Length;)
        {
            var size = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(position));
            correlationIds.Add(System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(position + 4)));
            position += 4 + size;
        }

        Assert.Equal(Enumerable.Range(200, 50), correlationIds);
    }

    [Fact]
    public async Task AClientThatVanishesMidFrameOrStopsReadingCostsOnlyItsOwnConnection()
    {
        var options = new TributaryBrokerOptions();
        options.Topics["t"] = 1;
        await using var broker = await TributaryBroker.StartAsync(options);

        // Half of a 1 MB frame, then a reset.
        using (var socket = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync("127.0.0.1", broker.Port);
            var partial = new byte[500_000];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(partial, 1_000_000);
            await socket.SendAsync(partial);
            socket.LingerState = new LingerOption(true, 0);
        }

        // A client that sends fetches and never reads: its answers back up in its socket and its output buffer, no further.
        using var silent = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await silent.ConnectAsync("127.0.0.1", broker.Port);
        await using (var writer = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            var value = new string('v', 100_000);
            for (var i = 0; i < 20; i++)
            {
                await WireRoundTrip.ProduceAsync(writer, "t", 0, value);
            }
        }

        var fetch = KafkaWireClient.Encode(ApiKey.Fetch, 12, 7, "silent", new FetchRequest
        {
            ReplicaId = -1,
            MaxWaitMs = 0,
            MaxBytes = 4 * 1024 * 1024,
            SessionEpoch = -1,
            Topics = [new FetchRequest.FetchTopic { Topic = "t", Partitions = [new FetchRequest.FetchPartition { Partition = 0, PartitionMaxBytes = 4 * 1024 * 1024, LogStartOffset = -1 }] }],
        });
        for (var i = 0; i < 20; i++)
        {
            await silent.SendAsync(fetch);
        }

        // Everyone else is served as before.
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var produced = await WireRoundTrip.ProduceAsync(client, "t", 0, "after").WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, produced.Responses[0].PartitionResponses[0].ErrorCode);
        Assert.Equal(20, produced.Responses[0].PartitionResponses[0].BaseOffset);
    }

    [Fact]
    public async Task StopAnswersAParkedFetchAtOnceAndThenClosesItsConnection()
    {
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(logs));
        var options = new TributaryBrokerOptions { LoggerFactory = loggerFactory };
        options.Topics["quiet"] = 1;
        var broker = await TributaryBroker.StartAsync(options);
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var correlationId = await client.SendOnlyAsync(ApiKey.Fetch, 12, WireRoundTrip.Fetch("quiet", 0, 0, maxWaitMs: 30_000));
        await Task.Delay(200); // parked: nothing to read at the tail

        // A live consumer always has a fetch parked. The stop wakes it, and it answers with what there is (nothing)
        // instead of holding the stop until the shutdown grace aborts the connection without an answer.
        var stopping = broker.DisposeAsync().AsTask();
        var frame = await client.ReadFrameAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var reader = new KafkaReader(frame);
        Assert.Equal(correlationId, ResponseHeader.Read(ref reader, 1).CorrelationId);
        var partition = FetchResponse.Read(ref reader, 12).Responses[0].Partitions[0];
        Assert.Equal(0, partition.ErrorCode);
        Assert.Equal(0, partition.Records?.Length ?? 0);
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains(logs.Messages, m => m.EndsWith(": the server is stopping", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Messages, m => m.Contains(" aborted: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StopAnswersAMemberWaitingToJoinItsGroupNotCoordinator()
    {
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(logs));
        var options = new TributaryBrokerOptions { LoggerFactory = loggerFactory };
        options.Config["group.initial.rebalance.delay.ms"] = "20000";
        var broker = await TributaryBroker.StartAsync(options);
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        JoinGroupRequest Join(string memberId) => new()
        {
            GroupId = "stopping",
            SessionTimeoutMs = 30_000,
            RebalanceTimeoutMs = 60_000,
            MemberId = memberId,
            ProtocolType = "consumer",
            Protocols = [new JoinGroupRequest.JoinGroupRequestProtocol { Name = "range", Metadata = [0, 0] }],
        };

        // The first join only learns its member id; the second waits for the group's first rebalance to settle
        // (group.initial.rebalance.delay.ms, 20 s here), longer than the stop's grace: before, the stop aborted it.
        var first = await client.SendAsync<JoinGroupRequest, JoinGroupResponse>(ApiKey.JoinGroup, 9, Join(""));
        Assert.Equal((short)ErrorCode.MemberIdRequired, first.ErrorCode);
        var correlationId = await client.SendOnlyAsync(ApiKey.JoinGroup, 9, Join(first.MemberId));
        await Task.Delay(200);

        var stopping = broker.DisposeAsync().AsTask();
        var frame = await client.ReadFrameAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var reader = new KafkaReader(frame);
        Assert.Equal(correlationId, ResponseHeader.Read(ref reader, 1).CorrelationId);
        Assert.Equal((short)ErrorCode.NotCoordinator, JoinGroupResponse.Read(ref reader, 9).ErrorCode);
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(logs.Messages, m => m.Contains(" aborted: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StopClosesAnIdleOpenConnectionOnRequestAndTheClientSeesTheEnd()
    {
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(logs));
        var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { LoggerFactory = loggerFactory });
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        await client.SendAsync<ApiVersionsRequest, ApiVersionsResponse>(ApiKey.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" });

        await broker.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        // Closed because the server asked, not aborted when the shutdown grace ran out.
        Assert.Contains(logs.Messages, m => m.EndsWith(": the server is stopping", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Messages, m => m.Contains(" aborted: ", StringComparison.Ordinal));
        await Assert.ThrowsAnyAsync<Exception>(() => client.ReadFrameAsync().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void TheBlockPoolHandsOutDistinctBlocksReusesReturnedOnesAndKeepsAtMostItsLimit()
    {
        using var pool = new BlockMemoryPool(pooledBlocksMax: 2);
        var a = pool.Rent();
        var b = pool.Rent();
        var c = pool.Rent();
        Assert.Equal(BlockMemoryPool.BlockBytes, a.Memory.Length);
        Assert.False(a.Memory.Span.Overlaps(b.Memory.Span));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(BlockMemoryPool.BlockBytes + 1));

        a.Dispose();
        a.Dispose(); // a second return must not put the block in the pool twice
        Assert.Equal(1, pool.IdleBlocks);
        b.Dispose();
        c.Dispose();
        Assert.Equal(2, pool.IdleBlocks);

        var again = pool.Rent();
        Assert.Equal(1, pool.IdleBlocks);
        Assert.True(again.Memory.Span.Overlaps(a.Memory.Span) || again.Memory.Span.Overlaps(b.Memory.Span));
    }

    /// <summary><paramref name="count"/> ApiVersions v3 request frames back to back, correlation ids counting up from <paramref name="firstCorrelationId"/>.</summary>
    private static byte[] ApiVersionsFrames(int count, int firstCorrelationId) =>
        [.. Enumerable.Range(firstCorrelationId, count).SelectMany(id =>
            KafkaWireClient.Encode(ApiKey.ApiVersions, 3, id, "t", new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" }))];

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(Messages);

        public void Dispose()
        {
        }

        private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<string> messages) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                messages.Enqueue(formatter(state, exception));
        }
    }
}
