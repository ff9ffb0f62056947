#:project ../src/Tributary.Server/Tributary.Server.csproj
#:property PublishAot=false

// Exactly-once figures of the broker (issue: idempotent and transactional producers).
// Run: dotnet run -c Release bench/eos-figures.cs
// An embedded on-disk broker on a free loopback port, raw requests over KafkaWireClient (one connection, one
// request in flight), in one run so the figures are comparable:
//  - produce throughput of plain batches vs idempotent batches (producer id, epoch, sequence numbers): the cost
//    of the broker's sequence checks, reported as a ratio;
//  - transactions per second: InitProducerId once, then per transaction AddPartitionsToTxn, one Produce request
//    carrying a batch for each partition, EndTxn(commit) — with 1 and with 10 partitions per transaction.
// Bounded: each measurement runs MeasureSeconds; the whole run is cancelled after RunSecondsMax.
using System.Diagnostics;
using System.Globalization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server;
using Tributary.Server.Client;

const int RunSecondsMax = 120;
const int MeasureSeconds = 5;
const int RecordsPerBatch = 16;
const int RecordBytes = 1000;
const string Topic = "eos-figures";

using var runLimit = new CancellationTokenSource(TimeSpan.FromSeconds(RunSecondsMax));
var data = Directory.CreateTempSubdirectory("tributary-eos-figures-");
try
{
    await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false, DataDirectory = data.FullName });
    await broker.CreateTopicAsync(Topic, 10);
    await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, runLimit.Token);
    var value = new byte[RecordBytes];
    new Random(7).NextBytes(value);

    var plain = await ProduceRateAsync(client, producerId: -1, epoch: -1, value, runLimit.Token);
    var idempotentProducer = await client.SendAsync<InitProducerIdRequest, InitProducerIdResponse>(
        ApiKey.InitProducerId, 4, new InitProducerIdRequest { TransactionalId = null, TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 }, runLimit.Token);
    Check(idempotentProducer.ErrorCode, "InitProducerId");
    var idempotent = await ProduceRateAsync(client, idempotentProducer.ProducerId, idempotentProducer.ProducerEpoch, value, runLimit.Token);

    var rows = new List<(string, string)>
    {
        ($"plain produce, {RecordsPerBatch} × {RecordBytes} B per request, acks=-1", $"{plain:F0} records/s"),
        ("idempotent produce, same batches with producer id and sequences", $"{idempotent:F0} records/s"),
        ("idempotent / plain", $"{idempotent / plain:F2}"),
    };
    foreach (var partitions in new[] { 1, 10 })
    {
        var rate = await TransactionRateAsync(client, partitions, value, runLimit.Token);
        rows.Add(($"committed transactions, {partitions} partition(s) per transaction, 1 batch of {RecordsPerBatch} records each", $"{rate:F0} transactions/s"));
    }

    Console.WriteLine("| figure | value |");
    Console.WriteLine("|---|---:|");
    foreach (var (figure, figureValue) in rows)
    {
        Console.WriteLine($"| {figure} | {figureValue} |");
    }
}
finally
{
    data.Delete(recursive: true);
}

static async Task<double> ProduceRateAsync(KafkaWireClient client, long producerId, short epoch, byte[] value, CancellationToken cancellationToken)
{
    var sequence = 0;
    var records = 0L;
    var watch = Stopwatch.StartNew();
    while (watch.Elapsed < TimeSpan.FromSeconds(MeasureSeconds))
    {
        var batch = Batch(value, producerId, epoch, producerId < 0 ? -1 : sequence, transactional: false);
        var response = await client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 9, Produce(null, [(0, batch)]), cancellationToken);
        Check(response.Responses[0].PartitionResponses[0].ErrorCode, "Produce");
        sequence += RecordsPerBatch;
        records += RecordsPerBatch;
    }

    return records / watch.Elapsed.TotalSeconds;
}

static async Task<double> TransactionRateAsync(KafkaWireClient client, int partitions, byte[] value, CancellationToken cancellationToken)
{
    var transactionalId = $"eos-figures-{partitions}";
    var init = await client.SendAsync<InitProducerIdRequest, InitProducerIdResponse>(
        ApiKey.InitProducerId, 4, new InitProducerIdRequest { TransactionalId = transactionalId, TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 }, cancellationToken);
    Check(init.ErrorCode, "InitProducerId");
    var sequences = new int[partitions];
    var committed = 0;
    var watch = Stopwatch.StartNew();
    while (watch.Elapsed < TimeSpan.FromSeconds(MeasureSeconds))
    {
        var add = await client.SendAsync<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse>(ApiKey.AddPartitionsToTxn, 3, new AddPartitionsToTxnRequest
        {
            V3AndBelowTransactionalId = transactionalId,
            V3AndBelowProducerId = init.ProducerId,
            V3AndBelowProducerEpoch = init.ProducerEpoch,
            V3AndBelowTopics = [new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic { Name = Topic, Partitions = [.. Enumerable.Range(0, partitions)] }],
        }, cancellationToken);
        foreach (var result in add.ResultsByTopicV3AndBelow.SelectMany(t => t.ResultsByPartition))
        {
            Check(result.PartitionErrorCode, "AddPartitionsToTxn");
        }

        var batches = Enumerable.Range(0, partitions).Select(p => (p, Batch(value, init.ProducerId, init.ProducerEpoch, sequences[p], transactional: true))).ToList();
        var produced = await client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 9, Produce(transactionalId, batches), cancellationToken);
        foreach (var partition in produced.Responses[0].PartitionResponses)
        {
            Check(partition.ErrorCode, "transactional Produce");
            sequences[partition.Index] += RecordsPerBatch;
        }

        var end = await client.SendAsync<EndTxnRequest, EndTxnResponse>(ApiKey.EndTxn, 3, new EndTxnRequest
        {
            TransactionalId = transactionalId,
            ProducerId = init.ProducerId,
            ProducerEpoch = init.ProducerEpoch,
            Committed = true,
        }, cancellationToken);
        Check(end.ErrorCode, "EndTxn");
        committed++;
    }

    return committed / watch.Elapsed.TotalSeconds;
}

static byte[] Batch(byte[] value, long producerId, short epoch, int baseSequence, bool transactional)
{
    var builder = new RecordBatchBuilder { ProducerId = producerId, ProducerEpoch = epoch, BaseSequence = baseSequence, IsTransactional = transactional };
    for (var i = 0; i < RecordsPerBatch; i++)
    {
        builder.Add(1_700_000_000_000 + i, null, value, null);
    }

    return builder.Build();
}

static ProduceRequest Produce(string? transactionalId, List<(int Partition, byte[] Batch)> batches) => new()
{
    TransactionalId = transactionalId,
    Acks = -1,
    TimeoutMs = 30_000,
    TopicData = [new ProduceRequest.TopicProduceData
    {
        Name = Topic,
        PartitionData = [.. batches.Select(b => new ProduceRequest.PartitionProduceData { Index = b.Partition, Records = b.Batch })],
    }],
};

static void Check(short errorCode, string what)
{
    if (errorCode != 0)
    {
        throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"{what} failed: {(ErrorCode)errorCode}"));
    }
}
