using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests;

/// <summary>Metadata: illegal names, and the authorized operations it reports when asked.</summary>
public sealed class MetadataHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();
    private readonly MetadataHandler _handler;

    public MetadataHandlerTests() => _handler = new MetadataHandler(_broker.Core);

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData("rel-x\n")]
    [InlineData("has space")]
    public async Task An_illegal_name_is_invalid_topic_exception_and_creates_nothing(string name)
    {
        var request = new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = name }], AllowAutoTopicCreation = true };

        var response = await _broker.SendAsync(_handler, request, 12);

        Assert.Equal((short)ErrorCode.InvalidTopicException, Assert.Single(response.Topics).ErrorCode);
        Assert.Empty(_broker.Core.Metadata.Topics);
    }

    // Kafka's AclOperation codes as bits: a topic's READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
    // DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11; the cluster's CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
    // DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12.
    private const int EveryTopicOperation = 3576;
    private const int EveryClusterOperation = 8096;

    [Theory]
    [InlineData(8)]
    [InlineData(10)]
    [InlineData(11)]
    [InlineData(13)]
    public async Task Authorized_operations_are_every_operation_when_asked_and_omitted_otherwise(short version)
    {
        _broker.CreateTopic("known");
        MetadataRequest Request(bool include) => new()
        {
            Topics = [new MetadataRequest.MetadataRequestTopic { Name = "known" }, new MetadataRequest.MetadataRequestTopic { Name = "unknown" }],
            AllowAutoTopicCreation = false,
            IncludeClusterAuthorizedOperations = include && version <= 10,
            IncludeTopicAuthorizedOperations = include,
        };

        var asked = await _broker.SendAsync(_handler, Request(true), version);
        Assert.Equal([EveryTopicOperation, EveryTopicOperation], asked.Topics.Select(t => t.TopicAuthorizedOperations));
        Assert.Equal(version <= 10 ? EveryClusterOperation : int.MinValue, asked.ClusterAuthorizedOperations);

        var notAsked = await _broker.SendAsync(_handler, Request(false), version);
        Assert.All(notAsked.Topics, t => Assert.Equal(int.MinValue, t.TopicAuthorizedOperations));
        Assert.Equal(int.MinValue, notAsked.ClusterAuthorizedOperations);
    }

    // Found by fuzz/run.sh (frame target): the answer to an unknown id had a null name, which v10-11 cannot carry.
    [Theory]
    [InlineData(10)]
    [InlineData(11)]
    public async Task A_topic_by_id_below_v12_is_a_malformed_request(short version)
    {
        var request = new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = null, TopicId = Guid.NewGuid() }] };
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        request.Write(ref writer, version);
        var context = new Dispatch.RequestContext(ApiKey.Metadata, version, 1, "test", new Dispatch.ConnectionInfo("c", null));

        await Assert.ThrowsAsync<ProtocolException>(() => _handler.HandleAsync(context, buffer.WrittenMemory, CancellationToken.None).AsTask());
    }
}
