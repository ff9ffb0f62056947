using System.Diagnostics;
using System.Text;
using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

public sealed class KcatCodecRestartTests(ITestOutputHelper output) : IDisposable
{
    private const int MessageCount = 200_000;
    private const int PartitionCount = 4;

    // Keys repeat (each is used ~49 times) so "same key, same partition, in order" is a real check.
    private const int DistinctKeyCount = 4096;

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-codec-");

    // Proves that 200,000 keyed messages with headers, produced by librdkafka with this codec into a 4-partition
    // topic on a disk-backed broker, come back byte for byte after a restart: each exactly once, every key on one
    // partition in produce order, and offsets contiguous from 0 in every partition. (The compression test below proves
    // the codec is really used on the wire: librdkafka silently falls back to plain batches when it thinks it must.)
    [Theory]
    [InlineData("none")]
    [InlineData("gzip")]
    [InlineData("snappy")]
    [InlineData("lz4")]
    [InlineData("zstd")]
    public async Task Kcat200kKeyedMessagesWithHeadersComeBackByteForByteAfterRestart(string codec)
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false, DataDirectory = Path.Combine(_work.FullName, "data") });
        var topic = "codec-" + codec;
        await broker.CreateTopicAsync(topic, PartitionCount);
        var input = Path.Combine(_work.FullName, "input.txt");
        WriteInput(input, MessageCount, codec);

        var clock = Stopwatch.StartNew();
        await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, topic, input, ["-X", "compression.codec=" + codec, "-X", "acks=all", "-H", "h=v", "-H", "codec=" + codec]);
        var produced = clock.Elapsed;

        clock.Restart();
        await broker.RestartAsync();
        var restarted = clock.Elapsed;

        clock.Restart();
        var messages = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, topic, Path.Combine(_work.FullName, "consumed.json"));
        output.WriteLine($"{codec}: {MessageCount:N0} messages; produce {produced.TotalSeconds:F1} s, restart {restarted.TotalSeconds:F1} s, consume {clock.Elapsed.TotalSeconds:F1} s");

        AssertExactlyTheInput(messages, topic, codec, MessageCount, PartitionCount);
    }

    // Proves a librdkafka producer asked for this codec really sends compressed batches to Tributary, and the broker
    // keeps them compressed: the log on disk is far smaller than the (very compressible) keys and values, and
    // librdkafka does not log that the broker "does not support compression type". librdkafka (rdkafka_msgset_writer.c)
    // compresses gzip, snappy and lz4 only if the broker's advertised Produce range reaches down to v0 (lz4 also wants
    // FindCoordinator v0), and zstd only if it reaches v7 and Fetch v10; otherwise it silently sends plain batches.
    // That is why Tributary advertises Produce from v0 (see ProduceHandler).
    [Theory]
    [InlineData("gzip")]
    [InlineData("snappy")]
    [InlineData("lz4")]
    [InlineData("zstd")]
    public async Task KcatProducerCompressesWithThisCodecAndTheLogStaysCompressed(string codec)
    {
        const int count = 20_000;
        var dataDirectory = Path.Combine(_work.FullName, "data");
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false, DataDirectory = dataDirectory });
        var topic = "compressed-" + codec;
        await broker.CreateTopicAsync(topic, 1);
        var input = Path.Combine(_work.FullName, "input.txt");
        var payloadBytes = WriteInput(input, count, codec);

        var produce = await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, topic, input, ["-X", "compression.codec=" + codec]);
        var messages = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, topic, Path.Combine(_work.FullName, "consumed.json"));
        AssertExactlyTheInput(messages, topic, codec, count, partitions: 1, expectHeaders: false);

        var storedBytes = Directory.EnumerateFiles(dataDirectory, "*.log", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        output.WriteLine($"{codec}: {payloadBytes:N0} bytes of keys and values stored in {storedBytes:N0} log bytes");
        Assert.False(produce.StandardError.Contains("does not support compression", StringComparison.Ordinal), $"librdkafka refused to compress with {codec}:\n{produce.StandardError}");
        Assert.True(storedBytes < payloadBytes / 2, $"{codec}: the log holds {storedBytes:N0} bytes for {payloadBytes:N0} bytes of keys and values: the batches were not compressed");
    }

    public void Dispose() => _work.Delete(recursive: true);

    private static string Key(int i) => "key-" + (i % DistinctKeyCount).ToString("D4", System.Globalization.CultureInfo.InvariantCulture);

    // Unique per message; a compressible run of one letter; quote, backslash and multi-byte UTF-8 to catch any
    // re-encoding on the way through. Never a tab (the key delimiter) or a newline (the message delimiter).
    private static string Value(int i, string codec) =>
        $"v{i:D7}|{codec}|{new string((char)('a' + (i % 26)), i % 97)}|\"q\\b\"|é☃日本";

    private static long WriteInput(string path, int count, string codec)
    {
        long bytes = 0;
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 1 << 16) { NewLine = "\n" };
        for (var i = 0; i < count; i++)
        {
            var key = Key(i);
            var value = Value(i, codec);
            bytes += Encoding.UTF8.GetByteCount(key) + Encoding.UTF8.GetByteCount(value);
            writer.Write(key);
            writer.Write('\t');
            writer.WriteLine(value);
        }

        return bytes;
    }

    private static void AssertExactlyTheInput(List<KcatMessage> messages, string topic, string codec, int count, int partitions, bool expectHeaders = true)
    {
        Assert.Equal(count, messages.Count);
        var seen = new bool[count];
        var partitionOfKey = new Dictionary<string, int>(StringComparer.Ordinal);
        var lastIndexOfKey = new Dictionary<string, int>(StringComparer.Ordinal);
        var nextOffset = new long[partitions];
        foreach (var m in messages)
        {
            Assert.Equal(topic, m.Topic);
            Assert.InRange(m.Partition, 0, partitions - 1);

            // kcat prints each partition in offset order: they must run 0, 1, 2, … with no gap or repeat.
            Assert.True(m.Offset == nextOffset[m.Partition], $"partition {m.Partition}: offset {m.Offset}, expected {nextOffset[m.Partition]}");
            nextOffset[m.Partition]++;

            Assert.NotNull(m.Payload);
            Assert.True(m.Payload.Length > 8 && m.Payload[0] == 'v', $"unexpected payload at {m.Partition}/{m.Offset}: {m.Payload}");
            var i = int.Parse(m.Payload.AsSpan(1, 7), System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(i, 0, count - 1);
            Assert.False(seen[i], $"message {i} delivered twice (again at {m.Partition}/{m.Offset})");
            seen[i] = true;
            Assert.Equal(Value(i, codec), m.Payload);
            Assert.Equal(Key(i), m.Key);
            Assert.Equal(expectHeaders ? ["h", "v", "codec", codec] : [], m.Headers ?? []);

            if (partitionOfKey.TryGetValue(m.Key!, out var partition))
            {
                Assert.True(partition == m.Partition, $"key {m.Key} on partitions {partition} and {m.Partition}");
                Assert.True(lastIndexOfKey[m.Key!] < i, $"key {m.Key}: message {i} stored after message {lastIndexOfKey[m.Key!]}");
            }

            partitionOfKey[m.Key!] = m.Partition;
            lastIndexOfKey[m.Key!] = i;
        }

        Assert.All(nextOffset, n => Assert.True(n > 0, "a partition received no messages"));
    }
}
