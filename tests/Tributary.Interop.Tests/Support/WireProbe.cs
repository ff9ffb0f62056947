using System.Buffers.Binary;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Protocol.Records;
using Tributary.Server.Client;

namespace Tributary.Interop.Tests.Support;

/// <summary>Raw-socket helpers over <see cref="KafkaWireClient"/>: hand-made frames and "did the broker hang up?".</summary>
public static class WireProbe
{
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(10);

    private const string ClientId = "interop-raw";

    /// <summary>The bytes of a whole request frame, size prefix included.</summary>
    public static byte[] Encode<TRequest>(ApiKey key, short version, int correlationId, TRequest request)
        where TRequest : IKafkaMessage =>
        KafkaWireClient.Encode(key, version, correlationId, ClientId, request);

    /// <summary>A whole request frame of <paramref name="request"/> encoded at <paramref name="encodeVersion"/>, then labelled <paramref name="claimedVersion"/>.</summary>
    public static byte[] FrameClaimingVersion<TRequest>(ApiKey key, short encodeVersion, short claimedVersion, int correlationId, TRequest request)
        where TRequest : IKafkaMessage
    {
        var frame = Encode(key, encodeVersion, correlationId, request);
        // size (4) | api key (2) | api version (2) | correlation id (4) | client id …
        BinaryPrimitives.WriteInt16BigEndian(frame.AsSpan(6), claimedVersion);
        return frame;
    }

    /// <summary>Passes if the broker closes the connection without answering; fails on a response or if it stays open.</summary>
    public static async Task AssertClosedAsync(KafkaWireClient client, string what)
    {
        using var timeout = new CancellationTokenSource(ReplyTimeout);
        try
        {
            var frame = await client.ReadFrameAsync(timeout.Token);
            Assert.Fail($"{what}: expected the broker to close the connection, got a {frame.Length}-byte response");
        }
        catch (EndOfStreamException)
        {
        }
        catch (IOException)
        {
            // A reset is as closed as an orderly FIN.
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            Assert.Fail($"{what}: the connection was still open after {ReplyTimeout.TotalSeconds} s");
        }
    }

    /// <summary>One request and its response at the same version, within <see cref="ReplyTimeout"/>.</summary>
    public static async Task<TResponse> SendAsync<TRequest, TResponse>(KafkaWireClient client, ApiKey key, short version, TRequest request)
        where TRequest : IKafkaMessage
        where TResponse : IKafkaMessage<TResponse>
    {
        using var timeout = new CancellationTokenSource(ReplyTimeout);
        return await client.SendAsync<TRequest, TResponse>(key, version, request, timeout.Token);
    }

    public static byte[] Batch(params string[] values)
    {
        var builder = new RecordBatchBuilder();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var value in values)
        {
            builder.Add(now, "k"u8.ToArray(), System.Text.Encoding.UTF8.GetBytes(value));
        }

        return builder.Build();
    }

    /// <summary>Produce v9 of one batch to one partition; returns that partition's error code and base offset.</summary>
    public static async Task<(ErrorCode Error, long BaseOffset)> ProduceAsync(KafkaWireClient client, string topic, byte[] batch)
    {
        var request = new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 10_000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = batch }] }],
        };
        var response = await SendAsync<ProduceRequest, ProduceResponse>(client, ApiKey.Produce, 9, request);
        var partition = Assert.Single(Assert.Single(response.Responses).PartitionResponses);
        return ((ErrorCode)partition.ErrorCode, partition.BaseOffset);
    }

    /// <summary>ListOffsets latest (the high watermark) of partition 0.</summary>
    public static async Task<long> LatestOffsetAsync(KafkaWireClient client, string topic)
    {
        var request = new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics = [new ListOffsetsRequest.ListOffsetsTopic { Name = topic, Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = 0, Timestamp = -1 }] }],
        };
        var response = await SendAsync<ListOffsetsRequest, ListOffsetsResponse>(client, ApiKey.ListOffsets, 7, request);
        var partition = Assert.Single(Assert.Single(response.Topics).Partitions);
        Assert.Equal(ErrorCode.None, (ErrorCode)partition.ErrorCode);
        return partition.Offset;
    }

    public static async Task<MetadataResponse.MetadataResponseTopic> MetadataAsync(KafkaWireClient client, string topic, bool allowAutoCreate)
    {
        var request = new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = topic }], AllowAutoTopicCreation = allowAutoCreate };
        var response = await SendAsync<MetadataRequest, MetadataResponse>(client, ApiKey.Metadata, 12, request);
        return Assert.Single(response.Topics);
    }

    public static async Task<List<string>> TopicNamesAsync(KafkaWireClient client)
    {
        var response = await SendAsync<MetadataRequest, MetadataResponse>(client, ApiKey.Metadata, 12, new MetadataRequest { Topics = null });
        return [.. response.Topics.Select(t => t.Name!)];
    }
}
