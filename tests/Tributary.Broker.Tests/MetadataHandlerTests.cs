using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests;

/// <summary>Metadata's auto-creation refuses what the storage could not open, before anything is stored.</summary>
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
}
