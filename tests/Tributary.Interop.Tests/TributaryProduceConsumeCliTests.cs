using System.Text;
using System.Text.Json;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server;
using Tributary.Server.Client;

namespace Tributary.Interop.Tests;

// Proves `tributary produce` and `tributary consume` (the built CLI, run as a process) against an in-process broker
// and against kcat: what one writes the other reads, with keys, headers and every codec; positions, groups,
// idempotence and termination behave as the options say; bad input is one line on stderr and a non-zero exit.
public sealed class TributaryProduceConsumeCliTests : IDisposable
{
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(60);

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-cli-io-");

    public void Dispose() => _work.Delete(recursive: true);

    // Produce with a key separator, two headers and a codec; tributary consume --output json and kcat -J both read every
    // record back with its key, value and headers, and the stored batches really carry that codec.
    [Theory]
    [InlineData("none")]
    [InlineData("gzip")]
    [InlineData("snappy")]
    [InlineData("lz4")]
    [InlineData("zstd")]
    public async Task ProducedRecordsComeBackThroughConsumeAndKcatWithEachCodec(string codec)
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { ["io"] = 3 } });
        var input = WriteLines("input.txt", Enumerable.Range(0, 200).Select(i => $"key-{i % 17}:value {i} {new string('x', i % 50)}"));

        var produce = await RunCliAsync(["produce", "io", "-b", broker.BootstrapServers, "--file", input, "--key-separator", ":", "--header", "source=cli", "--header", "codec=" + codec, "--compression", codec]);
        Assert.True(produce.ExitCode == 0, produce.Describe());
        Assert.Contains("produced 200 records", produce.StandardError, StringComparison.Ordinal);

        var consumed = await ConsumeJsonAsync(broker, "io", "--from", "beginning", "--exit-at-end");
        Assert.Equal(200, consumed.Count);
        var expected = Enumerable.Range(0, 200).Select(i => ($"key-{i % 17}", $"value {i} {new string('x', i % 50)}")).Order().ToList();
        Assert.Equal(expected, consumed.Select(r => (r.GetProperty("key").GetString()!, r.GetProperty("value").GetString()!)).Order().ToList());
        Assert.All(consumed, r => Assert.Equal($"source=cli,codec={codec}", string.Join(',', r.GetProperty("headers").EnumerateArray().Select(h => $"{h.GetProperty("key").GetString()}={h.GetProperty("value").GetString()}"))));

        var kcat = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, "io", Path.Combine(_work.FullName, "kcat.json"));
        Assert.Equal(expected, kcat.Select(m => (m.Key!, m.Payload!)).Order().ToList());
        Assert.All(kcat, m => Assert.Equal(["source", "cli", "codec", codec], m.Headers!));

        var batches = await FetchBatchesAsync(broker, "io", [0, 1, 2]);
        Assert.NotEmpty(batches);
        Assert.All(batches, b => Assert.Equal(Enum.Parse<CompressionType>(codec, ignoreCase: true), b.Compression));
    }

    // Keys go where Kafka's murmur2 partitioner puts them: librdkafka configured with murmur2_random agrees on every key.
    [Fact]
    public async Task KeyedRecordsLandOnTheSamePartitionsAsLibrdkafkasMurmur2Partitioner()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { ["by-cli"] = 5, ["by-kcat"] = 5 } });
        var input = WriteLines("keys.txt", Enumerable.Range(0, 100).Select(i => $"customer-{i}\tv"));
        var produce = await RunCliAsync(["produce", "by-cli", "-b", broker.BootstrapServers, "--file", input, "--key-separator", @"\t"]);
        Assert.True(produce.ExitCode == 0, produce.Describe());
        await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, "by-kcat", input, ["-X", "partitioner=murmur2_random"]);

        var cli = await ConsumeJsonAsync(broker, "by-cli", "--from", "beginning", "-e");
        var kcat = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, "by-kcat", Path.Combine(_work.FullName, "kcat.json"));
        Assert.Equal(100, cli.Count);
        Assert.Equal(
            kcat.Select(m => (m.Key!, m.Partition)).Order().ToList(),
            cli.Select(r => (r.GetProperty("key").GetString()!, r.GetProperty("partition").GetInt32())).Order().ToList());
        Assert.True(cli.Select(r => r.GetProperty("partition").GetInt32()).Distinct().Count() > 1);
    }

    // kcat writes zstd batches with keys and headers; tributary consume prints them with a kcat-like format string.
    [Fact]
    public async Task ConsumeReadsWhatKcatWroteWithZstdAndHeaders()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { ["from-kcat"] = 1 } });
        var input = WriteLines("kcat-input.txt", Enumerable.Range(0, 50).Select(i => $"k{i}\tpayload {i}"));
        await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, "from-kcat", input, ["-z", "zstd", "-H", "trace=abc", "-H", "n=1"]);
        Assert.All(await FetchBatchesAsync(broker, "from-kcat", [0]), b => Assert.Equal(CompressionType.Zstd, b.Compression));

        var consume = await RunCliAsync(["consume", "from-kcat", "-b", broker.BootstrapServers, "--from", "beginning", "-e", "--format", @"%t/%p/%o %k=%s (%K,%S) [%h]\n"]);
        Assert.True(consume.ExitCode == 0, consume.Describe());
        Assert.Equal(
            Enumerable.Range(0, 50).Select(i => $"from-kcat/0/{i} k{i}=payload {i} ({$"k{i}".Length},{$"payload {i}".Length}) [trace=abc,n=1]"),
            consume.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    // --from takes an offset, a negative count from the end, Unix milliseconds after s@ and an ISO 8601 time; values
    // that are not UTF-8 come out as base64 in JSON.
    [Fact]
    public async Task FromStartsAtAnOffsetOrATimestamp()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { ["timed"] = 1 } });
        const long BaseMs = 1_700_000_000_000;
        var builder = new RecordBatchBuilder();
        for (var i = 0; i < 10; i++)
        {
            builder.Add(BaseMs + (i * 1000), Encoding.UTF8.GetBytes($"k{i}"), i == 9 ? [0xff, 0xfe, 0x00] : Encoding.UTF8.GetBytes($"v{i}"));
        }

        await ProduceBatchAsync(broker, "timed", builder.Build());

        async Task<List<long>> OffsetsFromAsync(string from) =>
            [.. (await ConsumeJsonAsync(broker, "timed", "--from", from, "-e")).Select(r => r.GetProperty("offset").GetInt64())];

        Assert.Equal([7, 8, 9], await OffsetsFromAsync("7"));
        Assert.Equal([8, 9], await OffsetsFromAsync("-2"));
        Assert.Equal([6, 7, 8, 9], await OffsetsFromAsync("s@" + (BaseMs + 5500)));
        Assert.Equal([4, 5, 6, 7, 8, 9], await OffsetsFromAsync(DateTimeOffset.FromUnixTimeMilliseconds(BaseMs + 4000).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Empty(await OffsetsFromAsync("end"));

        var last = (await ConsumeJsonAsync(broker, "timed", "--from", "9", "-e")).Single();
        Assert.Equal(BaseMs + 9000, last.GetProperty("timestamp").GetInt64());
        Assert.Equal("base64", last.GetProperty("valueEncoding").GetString());
        Assert.Equal(new byte[] { 0xff, 0xfe, 0x00 }, Convert.FromBase64String(last.GetProperty("value").GetString()!));
    }

    // --isolation read_committed leaves out an aborted transaction's records (and the control markers); read_uncommitted
    // prints them. Both stop at the end with -e.
    [Fact]
    public async Task ReadCommittedSkipsAnAbortedTransaction()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { ["txn"] = 1 } });
        await using (var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            await TransactionAsync(client, "txn", ["aborted-1", "aborted-2"], commit: false);
            await TransactionAsync(client, "txn", ["committed-1"], commit: true);
        }

        async Task<List<string>> ValuesAsync(string isolation) =>
            [.. (await ConsumeJsonAsync(broker, "txn", "--from", "beginning", "-e", "--isolation", isolation)).Select(r => r.GetProperty("value").GetString()!)];

        Assert.Equal(["committed-1"], await ValuesAsync("read_committed"));
        Assert.Equal(["aborted-1", "aborted-2", "committed-1"], await ValuesAsync("read_uncommitted"));
    }

    // A group member commits what it printed: a second run of the same group continues right after it, so the two runs
    // together print every record once; each run leaves the group on exit.
    [Fact]
    public async Task AGroupCommitsAndTheNextRunContinuesAfterTheCommittedOffsets()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { ["grouped"] = 2 } });
        var input = WriteLines("grouped.txt", Enumerable.Range(0, 40).Select(i => $"k{i}:v{i}"));
        Assert.Equal(0, (await RunCliAsync(["produce", "grouped", "-b", broker.BootstrapServers, "--file", input, "-K", ":"])).ExitCode);

        var first = await ConsumeJsonAsync(broker, "grouped", "--group", "readers", "--from", "beginning", "--count", "15");
        Assert.Equal(15, first.Count);
        Assert.Empty(broker.Core.Groups.DescribeConsumerGroup("readers")!.Members);
        Assert.Equal(15, broker.Core.Groups.FetchOffsets("readers").Values.Sum(o => o.Offset));

        var second = await ConsumeJsonAsync(broker, "grouped", "--group", "readers", "--exit-at-end");
        Assert.Equal(25, second.Count);
        var all = first.Concat(second).Select(r => r.GetProperty("value").GetString()).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"v{i}").Order(StringComparer.Ordinal), all);
        Assert.Equal(40, broker.Core.Groups.FetchOffsets("readers").Values.Sum(o => o.Offset));
        Assert.Empty(broker.Core.Groups.DescribeConsumerGroup("readers")!.Members);
    }

    // SIGTERM (what Ctrl-C's SIGINT also triggers) stops a group member cleanly: exit code 0, offsets committed up to
    // what it printed, and the group left.
    [Fact]
    public async Task ATerminatedGroupMemberCommitsAndLeaves()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { ["stopped"] = 1 } });
        var input = WriteLines("stopped.txt", Enumerable.Range(0, 5).Select(i => $"v{i}"));
        Assert.Equal(0, (await RunCliAsync(["produce", "stopped", "-b", broker.BootstrapServers, "--file", input])).ExitCode);

        await using var consumer = ChildProcess.Start(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, "consume", "stopped", "-b", broker.BootstrapServers, "--group", "stoppers", "--from", "beginning"]);
        await consumer.WaitForLineAsync(line => line == "v4", CliTimeout);
        Assert.NotEmpty(broker.Core.Groups.DescribeConsumerGroup("stoppers")!.Members);

        var result = await consumer.TerminateAsync(CliTimeout);
        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Empty(broker.Core.Groups.DescribeConsumerGroup("stoppers")!.Members);
        Assert.Equal(5, broker.Core.Groups.FetchOffsets("stoppers")[("stopped", 0)].Offset);
    }

    // --idempotent: batches carry a producer id and consecutive sequences per partition (the broker checked and
    // accepted them), and kcat reads each record exactly once.
    [Fact]
    public async Task AnIdempotentProducerSendsSequencedBatchesWithoutDuplicates()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { ["exactly"] = 2 } });
        var input = WriteLines("exactly.txt", Enumerable.Range(0, 300).Select(i => $"k{i % 7}:record-{i}"));
        var produce = await RunCliAsync(["produce", "exactly", "-b", broker.BootstrapServers, "--file", input, "-K", ":", "--idempotent", "--batch-size", "500"]);
        Assert.True(produce.ExitCode == 0, produce.Describe());

        var batches = await FetchBatchesAsync(broker, "exactly", [0, 1]);
        Assert.True(batches.Count > 2, $"expected several batches, got {batches.Count}");
        Assert.All(batches, b => Assert.True(b.ProducerId >= 0));
        Assert.Single(batches.Select(b => (b.ProducerId, b.ProducerEpoch)).Distinct());
        foreach (var partition in batches.GroupBy(b => b.BaseOffset - b.BaseSequence))
        {
            Assert.Equal(0, partition.Key); // sequences start at 0 and run with the offsets, without gaps
        }

        var kcat = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, "exactly", Path.Combine(_work.FullName, "kcat.json"));
        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"record-{i}").Order(StringComparer.Ordinal), kcat.Select(m => m.Payload).Order(StringComparer.Ordinal));
    }

    // --count stops after that many records; --exit-at-end stops at the end, also on an empty topic.
    [Fact]
    public async Task CountAndExitAtEndTerminate()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { ["ten"] = 1, ["empty"] = 3 } });
        var input = WriteLines("ten.txt", Enumerable.Range(0, 10).Select(i => $"v{i}"));
        Assert.Equal(0, (await RunCliAsync(["produce", "ten", "-b", broker.BootstrapServers, "--file", input])).ExitCode);

        var three = await RunCliAsync(["consume", "ten", "-b", broker.BootstrapServers, "--from", "beginning", "--count", "3"]);
        Assert.True(three.ExitCode == 0, three.Describe());
        Assert.Equal(["v0", "v1", "v2"], three.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var empty = await RunCliAsync(["consume", "empty", "-b", broker.BootstrapServers, "--from", "beginning", "-e"]);
        Assert.True(empty.ExitCode == 0, empty.Describe());
        Assert.Equal("", empty.StandardOutput);
    }

    // Records from stdin, split at a custom delimiter; --partition pins them to one partition.
    [Fact]
    public async Task StdinWithADelimiterGoesToTheChosenPartition()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { ["piped"] = 4 } });
        var input = Path.Combine(_work.FullName, "piped.txt");
        await File.WriteAllTextAsync(input, "a|b|c|");
        var produce = await RunCliAsync(["produce", "piped", "-b", broker.BootstrapServers, "--delimiter", "|", "--partition", "3", "--acks", "1"], standardInputFile: input);
        Assert.True(produce.ExitCode == 0, produce.Describe());
        Assert.Contains("produced 3 records", produce.StandardError, StringComparison.Ordinal);
        var consumed = await ConsumeJsonAsync(broker, "piped", "--from", "beginning", "-e");
        Assert.Equal([("a", 3), ("b", 3), ("c", 3)], consumed.Select(r => (r.GetProperty("value").GetString()!, r.GetProperty("partition").GetInt32())));
    }

    // Every bad value, missing file, unknown topic and broker rejection is one line on stderr and a non-zero exit code.
    [Fact]
    public async Task BadInputIsOneLineAndANonZeroExit()
    {
        var options = new TributaryBrokerOptions { Topics = { ["small"] = 2 } };
        options.Config["auto.create.topics.enable"] = "false";
        options.Config["message.max.bytes"] = "2000";
        await using var broker = await TributaryBroker.StartAsync(options);
        var big = WriteLines("big.txt", [new string('x', 10_000)]);
        var missing = Path.Combine(_work.FullName, "missing.txt");
        var b = broker.BootstrapServers;
        (string[] Arguments, string Expected)[] cases =
        [
            (["produce", "small", "-b", b, "--acks", "2"], "--acks '2' is not one of"),
            (["produce", "small", "-b", b, "--compression", "foo"], "--compression 'foo' is not one of"),
            (["produce", "small", "-b", b, "--partition", "-5"], "--partition must be 0 or more"),
            (["produce", "small", "-b", b, "--file", missing], "cannot read " + missing),
            (["produce", "small", "-b", b, "--idempotent", "--acks", "1"], "--idempotent needs --acks all"),
            (["produce", "small", "-b", "127.0.0.1:abc"], "--bootstrap '127.0.0.1:abc': expected HOST:PORT"),
            (["produce", "small", "-b", b, "--file", big, "--partition", "7"], "has 2 partitions"),
            (["produce", "ghost", "-b", b, "--file", big], "topic 'ghost' does not exist"),
            (["produce", "small", "-b", b, "--file", big], "TooLarge"),
            (["consume", "ghost", "-b", b, "-e"], "topic 'ghost' does not exist"),
            (["consume", "small", "-b", b, "--from", "yesterday"], "--from 'yesterday' is not"),
            (["consume", "small", "-b", b, "--format", "%z"], "unknown token %z"),
            (["consume", "small", "-b", b, "--count", "0"], "--count must be at least 1"),
            (["consume", "small", "-b", b, "--from", "5", "-e"], "offset 5 is out of range"),
            (["consume", "small", "-b", b, "--group", "g", "--partition", "1"], "exclude each other"),
            (["consume", "small", "-b", b, "--partition", "9"], "has 2 partitions"),
            (["consume", "small", "-b", b, "--bogus"], "--bogus"),
        ];
        foreach (var (arguments, expected) in cases)
        {
            var run = await RunCliAsync(arguments);
            var command = string.Join(' ', arguments);
            Assert.True(run.ExitCode != 0, $"`{command}` succeeded: {run.Describe()}");
            Assert.True(run.StandardError.TrimEnd().Split('\n').Length == 1, $"`{command}` printed more than one line: {run.Describe()}");
            Assert.Contains(expected, run.StandardError, StringComparison.Ordinal);
        }

        Assert.Null(broker.Core.Metadata.Find("ghost"));
    }

    private static Task<ProcessResult> RunCliAsync(IEnumerable<string> arguments, string? standardInputFile = null) =>
        ProcessRunner.RunAsync(StandaloneBroker.DotnetHost, [RepositoryPaths.TributaryDll, .. arguments], CliTimeout, standardInputFile: standardInputFile);

    private static async Task<List<JsonElement>> ConsumeJsonAsync(TributaryBroker broker, string topic, params string[] arguments)
    {
        var run = await RunCliAsync(["consume", topic, "-b", broker.BootstrapServers, "--output", "json", .. arguments]);
        Assert.True(run.ExitCode == 0, run.Describe());
        return [.. run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone())];
    }

    private string WriteLines(string name, IEnumerable<string> lines)
    {
        var path = Path.Combine(_work.FullName, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private static async Task ProduceBatchAsync(TributaryBroker broker, string topic, byte[] batch)
    {
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        await ProduceBatchAsync(client, topic, batch, transactionalId: null);
    }

    private static async Task ProduceBatchAsync(KafkaWireClient client, string topic, byte[] batch, string? transactionalId)
    {
        var response = await client.SendAsync<ProduceRequest, ProduceResponse>(ApiKey.Produce, 9, new ProduceRequest
        {
            TransactionalId = transactionalId,
            Acks = -1,
            TimeoutMs = 10_000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = batch }] }],
        });
        Assert.Equal(0, response.Responses[0].PartitionResponses[0].ErrorCode);
    }

    /// <summary>One transaction of one batch on partition 0, committed or aborted (a new producer epoch each time).</summary>
    private static async Task TransactionAsync(KafkaWireClient client, string topic, string[] values, bool commit)
    {
        const string TransactionalId = "cli-io-tests";
        var init = await client.SendAsync<InitProducerIdRequest, InitProducerIdResponse>(ApiKey.InitProducerId, 4, new InitProducerIdRequest { TransactionalId = TransactionalId, TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 });
        Assert.Equal(0, init.ErrorCode);
        var added = await client.SendAsync<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse>(ApiKey.AddPartitionsToTxn, 3, new AddPartitionsToTxnRequest
        {
            V3AndBelowTransactionalId = TransactionalId,
            V3AndBelowProducerId = init.ProducerId,
            V3AndBelowProducerEpoch = init.ProducerEpoch,
            V3AndBelowTopics = [new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic { Name = topic, Partitions = [0] }],
        });
        Assert.All(added.ResultsByTopicV3AndBelow.SelectMany(t => t.ResultsByPartition), r => Assert.Equal(0, r.PartitionErrorCode));
        var builder = new RecordBatchBuilder { ProducerId = init.ProducerId, ProducerEpoch = init.ProducerEpoch, BaseSequence = 0, IsTransactional = true };
        foreach (var value in values)
        {
            builder.Add(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), null, Encoding.UTF8.GetBytes(value));
        }

        await ProduceBatchAsync(client, topic, builder.Build(), TransactionalId);
        var ended = await client.SendAsync<EndTxnRequest, EndTxnResponse>(ApiKey.EndTxn, 3, new EndTxnRequest { TransactionalId = TransactionalId, ProducerId = init.ProducerId, ProducerEpoch = init.ProducerEpoch, Committed = commit });
        Assert.Equal(0, ended.ErrorCode);
    }

    /// <summary>The headers of every stored batch of the partitions, as a Fetch from offset 0 returns them.</summary>
    private static async Task<List<RecordBatchHeader>> FetchBatchesAsync(TributaryBroker broker, string topic, int[] partitions)
    {
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var response = await client.SendAsync<FetchRequest, FetchResponse>(ApiKey.Fetch, 12, new FetchRequest
        {
            MaxWaitMs = 0,
            MaxBytes = 64 * 1024 * 1024,
            Topics = [new FetchRequest.FetchTopic { Topic = topic, Partitions = [.. partitions.Select(p => new FetchRequest.FetchPartition { Partition = p, PartitionMaxBytes = 16 * 1024 * 1024 })] }],
        });
        var headers = new List<RecordBatchHeader>();
        foreach (var partition in response.Responses.SelectMany(t => t.Partitions))
        {
            Assert.Equal(0, partition.ErrorCode);
            for (var rest = partition.Records ?? ReadOnlyMemory<byte>.Empty; rest.Length >= RecordBatchHeader.Size;)
            {
                var header = RecordBatchHeader.Read(rest.Span);
                headers.Add(header);
                rest = rest[header.TotalSize..];
            }
        }

        return headers;
    }
}
