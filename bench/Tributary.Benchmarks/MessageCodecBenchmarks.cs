using System.Buffers;
using BenchmarkDotNet.Attributes;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;

namespace Tributary.Benchmarks;

/// <summary>
/// Cost of the generated codec on the hot messages. Decoding a ProduceRequest that carries 1 MiB of records
/// must allocate per partition (the request objects), never per record: records stay a slice of the frame.
/// </summary>
[MemoryDiagnoser]
public class MessageCodecBenchmarks
{
    private const short ProduceVersion = 9;
    private const short MetadataVersion = 12;
    private const short FetchVersion = 12;

    private byte[] _produceOnePartition = [];
    private byte[] _produceFourPartitions = [];
    private byte[] _metadataResponse = [];
    private byte[] _fetchResponse = [];
    private MetadataResponse _metadata = new();
    private FetchResponse _fetch = new();
    private readonly ArrayBufferWriter<byte> _output = new(4 * 1024 * 1024);

    [GlobalSetup]
    public void Setup()
    {
        var batch = BenchmarkBatches.OneMebibyteOfKilobyteRecords(CompressionType.None);
        _produceOnePartition = Encode(Produce(batch, partitions: 1), ProduceVersion);
        _produceFourPartitions = Encode(Produce(batch.AsSpan(0, batch.Length).ToArray(), partitions: 4), ProduceVersion);
        _metadata = new MetadataResponse
        {
            Brokers = [new MetadataResponse.MetadataResponseBroker { NodeId = 0, Host = "127.0.0.1", Port = 9092 }],
            ClusterId = "bench-cluster",
            Topics = [.. Enumerable.Range(0, 50).Select(t => new MetadataResponse.MetadataResponseTopic
            {
                Name = $"topic-{t}",
                TopicId = Guid.NewGuid(),
                Partitions = [.. Enumerable.Range(0, 12).Select(p => new MetadataResponse.MetadataResponsePartition { PartitionIndex = p, ReplicaNodes = [0], IsrNodes = [0] })],
            })],
        };
        _metadataResponse = Encode(_metadata, MetadataVersion);
        _fetch = new FetchResponse
        {
            Responses = [new FetchResponse.FetchableTopicResponse
            {
                Topic = "bench",
                Partitions = [new FetchResponse.PartitionData { PartitionIndex = 0, HighWatermark = 1024, LastStableOffset = 1024, Records = batch }],
            }],
        };
        _fetchResponse = Encode(_fetch, FetchVersion);
    }

    [Benchmark(Description = "decode ProduceRequest, 1 partition, 1 MiB of 1 KB records")]
    public int DecodeProduceOnePartition()
    {
        var reader = new KafkaReader(_produceOnePartition);
        return ProduceRequest.Read(ref reader, ProduceVersion).TopicData.Count;
    }

    [Benchmark(Description = "decode ProduceRequest, 4 partitions, 4 MiB")]
    public int DecodeProduceFourPartitions()
    {
        var reader = new KafkaReader(_produceFourPartitions);
        return ProduceRequest.Read(ref reader, ProduceVersion).TopicData[0].PartitionData.Count;
    }

    [Benchmark(Description = "decode MetadataResponse, 50 topics x 12 partitions")]
    public int DecodeMetadata()
    {
        var reader = new KafkaReader(_metadataResponse);
        return MetadataResponse.Read(ref reader, MetadataVersion).Topics.Count;
    }

    [Benchmark(Description = "encode MetadataResponse, 50 topics x 12 partitions")]
    public int EncodeMetadata()
    {
        _output.ResetWrittenCount();
        var writer = new KafkaWriter(_output);
        _metadata.Write(ref writer, MetadataVersion);
        return _output.WrittenCount;
    }

    [Benchmark(Description = "decode FetchResponse, 1 MiB of records")]
    public int DecodeFetch()
    {
        var reader = new KafkaReader(_fetchResponse);
        return FetchResponse.Read(ref reader, FetchVersion).Responses.Count;
    }

    [Benchmark(Description = "encode FetchResponse, 1 MiB of records")]
    public int EncodeFetch()
    {
        _output.ResetWrittenCount();
        var writer = new KafkaWriter(_output);
        _fetch.Write(ref writer, FetchVersion);
        return _output.WrittenCount;
    }

    private static ProduceRequest Produce(byte[] batch, int partitions) => new()
    {
        Acks = 1,
        TimeoutMs = 30_000,
        TopicData = [new ProduceRequest.TopicProduceData
        {
            Name = "bench",
            PartitionData = [.. Enumerable.Range(0, partitions).Select(p => new ProduceRequest.PartitionProduceData { Index = p, Records = batch })],
        }],
    };

    private static byte[] Encode(IKafkaMessage message, short version)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        message.Write(ref writer, version);
        return buffer.WrittenSpan.ToArray();
    }
}
