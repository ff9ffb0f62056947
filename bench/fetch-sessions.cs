#:project ../src/Tributary.Server/Tributary.Server.csproj
#:property PublishAot=false

// Fetch sessions (KIP-227) figures: fetch request and response bytes per second with sessions on and off.
// Run: bash bench/fetch-sessions.sh (or dotnet run -c Release bench/fetch-sessions.cs)
// One process, two embedded in-memory brokers on free loopback ports, one after the other: sessions on (the default
// max.incremental.fetch.session.cache.slots) and off (0). Each has a topic of 1,000 partitions; a producer
// connection appends one 100-byte record every 10 ms, round robin over the partitions, while one consumer
// connection fetches as the Java consumer does (fetch.min.bytes 1, fetch.max.wait.ms 500, Fetch v16 with topic
// ids): with a session, each request after the first lists only the partitions whose offset moved; without one
// (the broker answers session id 0), every request lists all 1,000 partitions and every response answers for all.
// Bounded: each mode measures MeasureSeconds; the whole run is cancelled after RunSecondsMax.
using System.Diagnostics;
using System.Globalization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server;
using Tributary.Server.Client;

const int RunSecondsMax = 120;
const int MeasureSeconds = 15;
const int Partitions = 1000;
const int ProduceIntervalMs = 10;
const short FetchVersion = 16;
const string Topic = "fetch-sessions";

using var runLimit = new CancellationTokenSource(TimeSpan.FromSeconds(RunSecondsMax));
var rows = new List<Figures>();
foreach (var slots in new[] { "1000", "0" })
{
    rows.Add(await MeasureAsync(slots, runLimit.Token));
}

Console.WriteLine("| sessions | fetches/s | request B/s | response B/s | request B/fetch | response B/fetch | records/s consumed |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
foreach (var f in rows)
{
    var fetches = f.Fetches / f.Seconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {f.Mode} | {fetches:F0} | {f.RequestBytes / f.Seconds:N0} | {f.ResponseBytes / f.Seconds:N0} | {f.RequestBytes / (double)f.Fetches:N0} | {f.ResponseBytes / (double)f.Fetches:N0} | {f.Records / f.Seconds:F0} |"));
}

static async Task<Figures> MeasureAsync(string slots, CancellationToken cancellationToken)
{
    var options = new TributaryBrokerOptions { InMemory = true, Topics = { [Topic] = Partitions } };
    options.Config["max.incremental.fetch.session.cache.slots"] = slots;
    await using var broker = await TributaryBroker.StartAsync(options, cancellationToken);
    var topicId = broker.Core.Metadata.Find(Topic)!.Id;
    await using var consumer = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, cancellationToken);
    await using var producerClient = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, cancellationToken);

    using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    var producer = ProduceAsync(producerClient, stop.Token);

    var offsets = new long[Partitions];
    var sent = new long[Partitions];
    Array.Fill(sent, -1);
    var (sessionId, epoch) = (0, 0);
    long fetches = 0, requestBytes = 0, responseBytes = 0, records = 0;
    var watch = Stopwatch.StartNew();
    while (watch.Elapsed < TimeSpan.FromSeconds(MeasureSeconds))
    {
        // A session's request lists the partitions whose offset the session does not hold yet; a full one lists all.
        var listed = Enumerable.Range(0, Partitions).Where(p => sessionId == 0 || sent[p] != offsets[p]).ToList();
        var request = new FetchRequest
        {
            MinBytes = 1,
            MaxWaitMs = 500,
            MaxBytes = 50 * 1024 * 1024,
            SessionId = sessionId,
            SessionEpoch = epoch,
            Topics = listed.Count == 0 ? [] : [new FetchRequest.FetchTopic
            {
                TopicId = topicId,
                Partitions = [.. listed.Select(p => new FetchRequest.FetchPartition { Partition = p, FetchOffset = offsets[p], PartitionMaxBytes = 1024 * 1024 })],
            }],
        };
        var correlationId = await consumer.SendOnlyAsync(ApiKey.Fetch, FetchVersion, request, cancellationToken);
        requestBytes += KafkaWireClient.Encode(ApiKey.Fetch, FetchVersion, correlationId, consumer.ClientId, request).Length;
        foreach (var p in listed)
        {
            sent[p] = offsets[p];
        }

        var frame = await consumer.ReadFrameAsync(cancellationToken);
        responseBytes += frame.Length + 4;
        fetches++;
        var response = Decode(frame);
        if (response.ErrorCode != 0)
        {
            throw new InvalidOperationException($"fetch failed: {(ErrorCode)response.ErrorCode}");
        }

        (sessionId, epoch) = response.SessionId == 0 ? (0, 0) : (response.SessionId, sessionId == response.SessionId ? NextEpoch(epoch) : 1);
        if (sessionId == 0)
        {
            Array.Fill(sent, -1);
        }

        foreach (var partition in response.Responses.SelectMany(t => t.Partitions))
        {
            if (partition.ErrorCode != 0)
            {
                throw new InvalidOperationException($"partition {partition.PartitionIndex}: {(ErrorCode)partition.ErrorCode}");
            }

            for (var remaining = partition.Records ?? ReadOnlyMemory<byte>.Empty; remaining.Length >= RecordBatchHeader.Size;)
            {
                var header = RecordBatchHeader.Read(remaining.Span);
                records += header.RecordCount;
                offsets[partition.PartitionIndex] = header.NextOffset;
                remaining = remaining[Math.Min(header.TotalSize, remaining.Length)..];
            }
        }
    }

    var seconds = watch.Elapsed.TotalSeconds;
    await stop.CancelAsync();
    try
    {
        await producer;
    }
    catch (OperationCanceledException)
    {
    }

    return new Figures(slots == "0" ? "off (slots 0)" : "on (slots 1000)", seconds, fetches, requestBytes, responseBytes, records);
}

static async Task ProduceAsync(KafkaWireClient client, CancellationToken cancellationToken)
{
    var value = new byte[100];
    new Random(7).NextBytes(value);
    using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(ProduceIntervalMs));
    for (var i = 0; await timer.WaitForNextTickAsync(cancellationToken); i++)
    {
        var batch = new RecordBatchBuilder();
        batch.Add(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), null, value);
        var response = await client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 9, new ProduceRequest
        {
            Acks = 1,
            TimeoutMs = 10_000,
            TopicData = [new ProduceRequest.TopicProduceData
            {
                Name = Topic,
                PartitionData = [new ProduceRequest.PartitionProduceData { Index = i % Partitions, Records = batch.Build() }],
            }],
        }, cancellationToken);
        if (response.Responses[0].PartitionResponses[0].ErrorCode != 0)
        {
            throw new InvalidOperationException($"produce failed: {(ErrorCode)response.Responses[0].PartitionResponses[0].ErrorCode}");
        }
    }
}

static FetchResponse Decode(byte[] frame)
{
    var reader = new KafkaReader(frame);
    ResponseHeader.Read(ref reader, KafkaApis.Find((short)ApiKey.Fetch)!.ResponseHeaderVersion(FetchVersion));
    return FetchResponse.Read(ref reader, FetchVersion);
}

static int NextEpoch(int epoch) => epoch == int.MaxValue ? 1 : epoch + 1;

internal sealed record Figures(string Mode, double Seconds, long Fetches, long RequestBytes, long ResponseBytes, long Records);
