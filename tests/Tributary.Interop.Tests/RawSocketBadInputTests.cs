using System.Buffers.Binary;
using System.Text;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server;
using Tributary.Server.Client;

namespace Tributary.Interop.Tests;

public sealed class RawSocketBadInputTests : IDisposable
{
    private const int RequestBytesMax = 4096;

    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-raw-");

    // Proves bytes that are not Kafka (an HTTP request, whose first four bytes read as a 1.2 GB frame size) and a
    // frame of garbage close that connection only: a second connection is served, and kcat still works.
    [Fact]
    public async Task GarbageClosesTheConnectionAndTheBrokerServesTheNextOne()
    {
        await using var broker = await StartAsync(autoCreate: true);
        await GarbageAsync(broker);
        await AssertKcatStillProducesAndConsumesAsync(broker);
    }

    // Proves socket.request.max.bytes is enforced from the size prefix alone (no body is awaited) and a frame just
    // under the limit is still served.
    [Fact]
    public async Task FrameOverSocketRequestMaxBytesClosesTheConnection()
    {
        await using var broker = await StartAsync(autoCreate: true);
        await OversizedFrameAsync(broker);
        await AssertKcatStillProducesAndConsumesAsync(broker);
    }

    // Proves an API key Kafka does not define (999) closes the connection, as Kafka does.
    [Fact]
    public async Task UnknownApiKeyClosesTheConnection()
    {
        await using var broker = await StartAsync(autoCreate: true);
        await UnknownApiKeyAsync(broker);
        await AssertKcatStillProducesAndConsumesAsync(broker);
    }

    // Proves KIP-511: ApiVersions at a version the broker does not know (v99) is answered, not dropped, with a v0
    // response carrying UNSUPPORTED_VERSION and the supported ranges, so a newer client can retry lower.
    [Fact]
    public async Task UnsupportedApiVersionsVersionGetsV0ResponseWithUnsupportedVersionAndTheApiList()
    {
        await using var broker = await StartAsync(autoCreate: true);
        await UnsupportedApiVersionsAsync(broker);
        await AssertKcatStillProducesAndConsumesAsync(broker);
    }

    // Proves a request below (Fetch v3) or above (Metadata v99) the advertised range closes the connection.
    [Fact]
    public async Task UnsupportedMetadataVersionClosesTheConnection()
    {
        await using var broker = await StartAsync(autoCreate: true);
        await UnsupportedMetadataAsync(broker);
        await AssertKcatStillProducesAndConsumesAsync(broker);
    }

    // Proves a batch whose CRC does not match is refused with CORRUPT_MESSAGE and nothing of it is appended.
    [Fact]
    public async Task ProduceWithWrongCrcGetsCorruptMessageAndAppendsNothing()
    {
        await using var broker = await StartAsync(autoCreate: true);
        await WrongCrcAsync(broker);
        await AssertKcatStillProducesAndConsumesAsync(broker);
    }

    // Proves producing to a topic that does not exist, with auto-create off, answers UNKNOWN_TOPIC_OR_PARTITION and
    // creates nothing.
    [Fact]
    public async Task ProduceToMissingTopicWithAutoCreateOffGetsUnknownTopicOrPartition()
    {
        await using var broker = await StartAsync(autoCreate: false);
        await MissingTopicAsync(broker);
        await AssertKcatStillProducesAndConsumesAsync(broker);
    }

    // Proves Metadata for a name Kafka forbids ("bad name!"), with auto-create on, answers INVALID_TOPIC_EXCEPTION and
    // creates nothing.
    [Fact]
    public async Task MetadataForInvalidTopicNameWithAutoCreateOnGetsInvalidTopicException()
    {
        await using var broker = await StartAsync(autoCreate: true);
        await InvalidTopicNameAsync(broker);
        await AssertKcatStillProducesAndConsumesAsync(broker);
    }

    // Proves the hostile inputs above, one after another on one broker, leave it serving real clients.
    [Fact]
    public async Task AfterEveryBadInputInTurnKcatStillProducesAndConsumes()
    {
        await using var broker = await StartAsync(autoCreate: true);
        await GarbageAsync(broker);
        await OversizedFrameAsync(broker);
        await UnknownApiKeyAsync(broker);
        await UnsupportedApiVersionsAsync(broker);
        await UnsupportedMetadataAsync(broker);
        await WrongCrcAsync(broker);
        await MissingTopicAsync(broker);
        await InvalidTopicNameAsync(broker);
        await AssertKcatStillProducesAndConsumesAsync(broker);
    }

    public void Dispose() => _work.Delete(recursive: true);

    private static Task<TributaryBroker> StartAsync(bool autoCreate)
    {
        var options = new TributaryBrokerOptions();
        options.Config["auto.create.topics.enable"] = autoCreate ? "true" : "false";
        options.Config["socket.request.max.bytes"] = RequestBytesMax.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TributaryBroker.StartAsync(options);
    }

    private static async Task GarbageAsync(TributaryBroker broker)
    {
        await using (var http = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            await http.WriteRawAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
            await WireProbe.AssertClosedAsync(http, "an HTTP request");
        }

        await using (var framed = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            // A well-sized frame whose header is nonsense: api key -1, version -1, then noise.
            var garbage = new byte[4 + 64];
            BinaryPrimitives.WriteInt32BigEndian(garbage, 64);
            new Random(7).NextBytes(garbage.AsSpan(4));
            garbage.AsSpan(4, 4).Fill(0xFF);
            await framed.WriteRawAsync(garbage);
            await WireProbe.AssertClosedAsync(framed, "a frame of garbage");
        }

        await AssertApiVersionsServedAsync(broker);
    }

    private static async Task OversizedFrameAsync(TributaryBroker broker)
    {
        await using (var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            // Only the size prefix: the broker must not wait for a body it will never accept.
            var prefix = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(prefix, RequestBytesMax + 1);
            await client.WriteRawAsync(prefix);
            await WireProbe.AssertClosedAsync(client, "a size prefix one byte over socket.request.max.bytes");
        }

        await using (var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            await broker.CreateTopicAsync("sized", 1);
            var (error, _) = await WireProbe.ProduceAsync(client, "sized", WireProbe.Batch(new string('s', RequestBytesMax / 2)));
            Assert.Equal(ErrorCode.None, error);
            var tooBig = WireProbe.Encode(ApiKey.Produce, 9, 2, new ProduceRequest
            {
                Acks = -1,
                TimeoutMs = 10_000,
                TopicData = [new ProduceRequest.TopicProduceData { Name = "sized", PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = WireProbe.Batch(new string('b', RequestBytesMax * 2)) }] }],
            });
            Assert.True(tooBig.Length - 4 > RequestBytesMax);
            await client.WriteRawAsync(tooBig);
            await WireProbe.AssertClosedAsync(client, "a produce request over socket.request.max.bytes");
        }

        await using var after = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        Assert.Equal(1, await WireProbe.LatestOffsetAsync(after, "sized"));
    }

    private static async Task UnknownApiKeyAsync(TributaryBroker broker)
    {
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        // size | api key 999 | version 0 | correlation id 1 | null client id
        var frame = new byte[4 + 2 + 2 + 4 + 2];
        BinaryPrimitives.WriteInt32BigEndian(frame, frame.Length - 4);
        BinaryPrimitives.WriteInt16BigEndian(frame.AsSpan(4), 999);
        BinaryPrimitives.WriteInt16BigEndian(frame.AsSpan(6), 0);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(8), 1);
        BinaryPrimitives.WriteInt16BigEndian(frame.AsSpan(12), -1);
        await client.WriteRawAsync(frame);
        await WireProbe.AssertClosedAsync(client, "API key 999");
        await AssertApiVersionsServedAsync(broker);
    }

    private static async Task UnsupportedApiVersionsAsync(TributaryBroker broker)
    {
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        const int correlationId = 4242;
        var request = new ApiVersionsRequest { ClientSoftwareName = "interop", ClientSoftwareVersion = "99" };
        await client.WriteRawAsync(WireProbe.FrameClaimingVersion(ApiKey.ApiVersions, 4, 99, correlationId, request));

        using var timeout = new CancellationTokenSource(WireProbe.ReplyTimeout);
        var frame = await client.ReadFrameAsync(timeout.Token);
        // KIP-511: the answer is an ApiVersions v0 response (header v0), whatever version was asked.
        var reader = new KafkaReader(frame);
        Assert.Equal(correlationId, ResponseHeader.Read(ref reader, 0).CorrelationId);
        var response = ApiVersionsResponse.Read(ref reader, 0);
        Assert.Equal(ErrorCode.UnsupportedVersion, (ErrorCode)response.ErrorCode);
        var ranges = response.ApiKeys.ToDictionary(k => (ApiKey)k.ApiKey, k => (k.MinVersion, k.MaxVersion));
        Assert.Equal((0, 4), ranges[ApiKey.ApiVersions]);
        Assert.Equal((0, 13), ranges[ApiKey.Metadata]);
        Assert.True(ranges.ContainsKey(ApiKey.Produce) && ranges.ContainsKey(ApiKey.Fetch) && ranges.ContainsKey(ApiKey.ListOffsets), "the list misses Produce, Fetch or ListOffsets");

        // The connection stays usable: the client retries at a version the broker named.
        var retried = await WireProbe.SendAsync<ApiVersionsRequest, ApiVersionsResponse>(client, ApiKey.ApiVersions, 3, request);
        Assert.Equal(ErrorCode.None, (ErrorCode)retried.ErrorCode);
    }

    private static async Task UnsupportedMetadataAsync(TributaryBroker broker)
    {
        await using (var below = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            // Fetch v3: below the range (4-18); those versions carry only the old message formats. The body is v4's.
            await below.WriteRawAsync(WireProbe.FrameClaimingVersion(ApiKey.Fetch, 4, 3, 1, new FetchRequest { ReplicaId = -1 }));
            await WireProbe.AssertClosedAsync(below, "Fetch v3");
        }

        await using (var above = await KafkaWireClient.ConnectAsync(broker.BootstrapServers))
        {
            await above.WriteRawAsync(WireProbe.FrameClaimingVersion(ApiKey.Metadata, 12, 99, 1, new MetadataRequest { Topics = null }));
            await WireProbe.AssertClosedAsync(above, "Metadata v99");
        }

        await AssertApiVersionsServedAsync(broker);
    }

    private static async Task WrongCrcAsync(TributaryBroker broker)
    {
        await broker.CreateTopicAsync("crc", 1);
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        Assert.Equal((ErrorCode.None, 0L), await WireProbe.ProduceAsync(client, "crc", WireProbe.Batch("good")));

        var corrupt = WireProbe.Batch("bad-1", "bad-2");
        corrupt[^1] ^= 0x5A; // inside the records, which the CRC covers
        var (error, baseOffset) = await WireProbe.ProduceAsync(client, "crc", corrupt);
        Assert.Equal(ErrorCode.CorruptMessage, error);
        Assert.Equal(-1, baseOffset);
        Assert.Equal(1, await WireProbe.LatestOffsetAsync(client, "crc"));
    }

    private static async Task MissingTopicAsync(TributaryBroker broker)
    {
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var (error, _) = await WireProbe.ProduceAsync(client, "nowhere", WireProbe.Batch("lost"));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, error);
        Assert.DoesNotContain("nowhere", await WireProbe.TopicNamesAsync(client));
    }

    private static async Task InvalidTopicNameAsync(TributaryBroker broker)
    {
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var topic = await WireProbe.MetadataAsync(client, "bad name!", allowAutoCreate: true);
        Assert.Equal(ErrorCode.InvalidTopicException, (ErrorCode)topic.ErrorCode);
        Assert.DoesNotContain("bad name!", await WireProbe.TopicNamesAsync(client));
    }

    private static async Task AssertApiVersionsServedAsync(TributaryBroker broker)
    {
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);
        var response = await WireProbe.SendAsync<ApiVersionsRequest, ApiVersionsResponse>(client, ApiKey.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "interop", ClientSoftwareVersion = "1" });
        Assert.Equal(ErrorCode.None, (ErrorCode)response.ErrorCode);
    }

    private async Task AssertKcatStillProducesAndConsumesAsync(TributaryBroker broker)
    {
        await broker.CreateTopicAsync("still-alive", 2);
        var input = Path.Combine(_work.FullName, "alive.txt");
        await File.WriteAllTextAsync(input, "a\tone\nb\ttwo\nc\tthree\n");
        await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, "still-alive", input, ["-X", "acks=all"]);
        var messages = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, "still-alive", Path.Combine(_work.FullName, "alive.json"));
        Assert.Equal(["a=one", "b=two", "c=three"], messages.Select(m => $"{m.Key}={m.Payload}").Order(StringComparer.Ordinal));
    }
}
