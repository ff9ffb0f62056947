using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests;

/// <summary>DescribeCluster: the one broker is the whole cluster and its controller.</summary>
public sealed class DescribeClusterHandlerTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task The_broker_describes_itself_as_the_cluster(short version)
    {
        using var broker = new TestBroker("node.id=5");
        broker.Core.AdvertisedHost = "broker.example";
        broker.Core.AdvertisedPort = 19092;

        var response = await broker.SendAsync(new DescribeClusterHandler(broker.Core), new DescribeClusterRequest { IncludeClusterAuthorizedOperations = true }, version);

        Assert.Equal((short)ErrorCode.None, response.ErrorCode);
        Assert.Null(response.ErrorMessage);
        Assert.Equal(broker.Core.Metadata.ClusterId, response.ClusterId);
        Assert.Equal(5, response.ControllerId);
        var self = Assert.Single(response.Brokers);
        Assert.Equal((5, "broker.example", 19092, (string?)null), (self.BrokerId, self.Host, self.Port, self.Rack));
        // CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12.
        Assert.Equal(8096, response.ClusterAuthorizedOperations);
        var notAsked = await broker.SendAsync(new DescribeClusterHandler(broker.Core), new DescribeClusterRequest(), version);
        Assert.Equal(int.MinValue, notAsked.ClusterAuthorizedOperations);
    }

    [Fact]
    public async Task Asking_for_controllers_is_an_unsupported_endpoint_type()
    {
        using var broker = new TestBroker();

        var response = await broker.SendAsync(new DescribeClusterHandler(broker.Core), new DescribeClusterRequest { EndpointType = 2 }, 1);

        Assert.Equal((short)ErrorCode.UnsupportedEndpointType, response.ErrorCode);
        Assert.Equal(2, response.EndpointType);
        Assert.Empty(response.Brokers);
    }

    [Fact]
    public void The_error_response_carries_the_error()
    {
        using var broker = new TestBroker();

        var response = broker.ErrorResponse(new DescribeClusterHandler(broker.Core), new DescribeClusterRequest(), 1, ErrorCode.NotController);

        Assert.Equal((short)ErrorCode.NotController, response.ErrorCode);
    }
}
