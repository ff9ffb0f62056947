using System.Buffers.Binary;
using Tributary.Protocol.Records;

namespace Tributary.Protocol.Tests;

/// <summary>
/// Request frames captured from real clients (kcat/librdkafka 2.0.2, kafkajs 2.2.4) over loopback with
/// tools/capture/record-frames.py. Proves the generated codec reads what real clients send and writes
/// the same bytes back, and that their record batches validate and decode.
/// </summary>
public sealed class GoldenFrameTests
{
    private static readonly string GoldenDirectory = Path.Combine(AppContext.BaseDirectory, "Golden");

    public static TheoryData<string> Frames() => [.. Directory.GetFiles(GoldenDirectory, "*.bin").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    [Fact]
    public void CapturesCoverTheRequiredApisAndClients()
    {
        var names = Directory.GetFiles(GoldenDirectory, "*.bin").Select(Path.GetFileName).ToList();
        foreach (var client in new[] { "kcat", "kafkajs" })
        {
            foreach (var api in new[] { ApiKey.ApiVersions, ApiKey.Metadata, ApiKey.Produce, ApiKey.Fetch, ApiKey.JoinGroup, ApiKey.SyncGroup })
            {
                Assert.Contains(names, n => n!.StartsWith($"{client}-{(short)api:00}-", StringComparison.Ordinal));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void FrameDecodesAndReencodesToTheSameBytes(string file)
    {
        var frame = File.ReadAllBytes(Path.Combine(GoldenDirectory, file));
        var (header, body, descriptor) = ReadHeader(frame);
        var c = RandomMessages.AllCases.Single(x => x.Name == $"{descriptor.Key}Request");

        var request = c.Read(body, header.RequestApiVersion);

        var again = RandomMessages.Encode(header, descriptor.RequestHeaderVersion(header.RequestApiVersion))
            .Concat(RandomMessages.Encode(request, header.RequestApiVersion)).ToArray();
        Assert.True(frame.AsSpan().SequenceEqual(again), RandomMessages.Difference(frame, again));
        Assert.StartsWith(file.StartsWith("kcat", StringComparison.Ordinal) ? "rdkafka" : "kafkajs", header.ClientId, StringComparison.Ordinal);
    }

    [Fact]
    public void KcatApiVersionsNamesItsSoftware()
    {
        var (header, body, _) = ReadHeader(File.ReadAllBytes(Path.Combine(GoldenDirectory, "kcat-18-v3-0.bin")));
        var request = RandomMessages.ReadAll<Messages.ApiVersionsRequest>(body, header.RequestApiVersion);
        Assert.Equal("librdkafka", request.ClientSoftwareName);
        Assert.False(string.IsNullOrEmpty(request.ClientSoftwareVersion));
    }

    [Theory]
    [InlineData("kcat-00-v7-produce-none.bin", CompressionType.None, "golden-none")]
    [InlineData("kcat-00-v7-produce-gzip.bin", CompressionType.Gzip, "golden-gzip")]
    [InlineData("kcat-00-v7-produce-snappy.bin", CompressionType.Snappy, "golden-snappy")]
    [InlineData("kcat-00-v7-produce-lz4.bin", CompressionType.Lz4, "golden-lz4")]
    [InlineData("kcat-00-v7-produce-zstd.bin", CompressionType.Zstd, "golden-zstd")]
    [InlineData("kafkajs-00-v7-produce-gzip.bin", CompressionType.Gzip, "golden-js")]
    [InlineData("kafkajs-00-v7-produce-none.bin", CompressionType.None, "golden-js")]
    public void ProducedBatchesValidateAndDecode(string file, CompressionType compression, string topic)
    {
        var (header, body, _) = ReadHeader(File.ReadAllBytes(Path.Combine(GoldenDirectory, file)));
        var request = RandomMessages.ReadAll<Messages.ProduceRequest>(body, header.RequestApiVersion);
        var partition = Assert.Single(Assert.Single(request.TopicData, t => t.Name == topic).PartitionData);

        var validation = RecordBatchValidator.Validate(partition.Records!.Value);

        Assert.True(validation.IsValid, validation.ToString());
        var batch = Assert.Single(validation.Batches);
        Assert.Equal(compression, batch.Compression);
        Assert.True(batch.RecordCount > 0);
    }

    [Theory]
    [InlineData("kcat-11-v5-0.bin", "golden-group")]
    [InlineData("kafkajs-11-v5-1.bin", "golden-js-group")]
    public void JoinGroupCarriesAConsumerSubscription(string file, string group)
    {
        var (header, body, _) = ReadHeader(File.ReadAllBytes(Path.Combine(GoldenDirectory, file)));
        var request = RandomMessages.ReadAll<Messages.JoinGroupRequest>(body, header.RequestApiVersion);

        Assert.Equal(group, request.GroupId);
        Assert.Equal("consumer", request.ProtocolType);
        var protocol = request.Protocols.First();
        var reader = new KafkaReader(protocol.Metadata);
        var version = reader.ReadInt16();
        var subscription = Messages.ConsumerProtocolSubscription.Read(ref reader, version);
        Assert.NotEmpty(subscription.Topics);
    }

    private static (Messages.RequestHeader Header, ReadOnlyMemory<byte> Body, ApiDescriptor Descriptor) ReadHeader(byte[] frame)
    {
        var descriptor = KafkaApis.Find(BinaryPrimitives.ReadInt16BigEndian(frame))!;
        var version = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(2));
        var reader = new KafkaReader(frame);
        var header = Messages.RequestHeader.Read(ref reader, descriptor.RequestHeaderVersion(version));
        return (header, frame.AsMemory(reader.Position), descriptor);
    }
}
