using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Handlers;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests;

/// <summary>DescribeLogDirs: the broker's one directory with the size of each partition it holds.</summary>
public sealed class DescribeLogDirsHandlerTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("tributary-describe-log-dirs-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task Each_requested_partition_is_listed_with_its_size_and_missing_ones_are_left_out(short version)
    {
        using var broker = TestBroker.OnDisk(_directory.FullName);
        broker.CreateTopic("sized", partitions: 2);
        broker.CreateTopic("other");
        var produced = await broker.SendAsync(new ProduceHandler(broker.Core, NullLogger<ProduceHandler>.Instance), new ProduceRequest
        {
            Acks = 1,
            TimeoutMs = 1000,
            TopicData = [new() { Name = "sized", PartitionData = [new() { Index = 0, Records = TestBroker.Batch("a", "b", "c") }] }],
        }, 9);
        Assert.Equal((short)ErrorCode.None, produced.Responses.Single().PartitionResponses.Single().ErrorCode);
        var handler = new DescribeLogDirsHandler(broker.Core);

        var response = await broker.SendAsync(handler, new DescribeLogDirsRequest { Topics = [new() { Topic = "sized", Partitions = [0, 1, 7] }, new() { Topic = "ghost", Partitions = [0] }] }, version);

        Assert.Equal((short)ErrorCode.None, response.ErrorCode);
        var directory = Assert.Single(response.Results);
        Assert.Equal((short)ErrorCode.None, directory.ErrorCode);
        Assert.Equal(Path.GetFullPath(_directory.FullName), directory.LogDir);
        var topic = Assert.Single(directory.Topics);
        Assert.Equal("sized", topic.Name);
        Assert.Equal([0, 1], topic.Partitions.Select(p => p.PartitionIndex));
        Assert.True(broker.Core.Logs.TryGet("sized", 0, out var log));
        Assert.True(log.SizeBytes > 0);
        Assert.Equal(log.SizeBytes, topic.Partitions[0].PartitionSize);
        Assert.Equal(0, topic.Partitions[1].PartitionSize);
        if (version >= 4)
        {
            Assert.True(directory.TotalBytes > 0 && directory.UsableBytes >= 0, $"total {directory.TotalBytes}, usable {directory.UsableBytes}");
        }

        var all = await broker.SendAsync(handler, new DescribeLogDirsRequest { Topics = null }, version);
        Assert.Equal(["other", "sized"], all.Results.Single().Topics.Select(t => t.Name));
    }

    [Fact]
    public async Task Without_describe_on_the_cluster_the_answer_is_cluster_authorization_failed()
    {
        using var broker = new TestBroker("authorizer.class.name=" + Authorizer.StandardAuthorizerClass);
        broker.CreateTopic("sized");
        var handler = new DescribeLogDirsHandler(broker.Core);

        var refused = await broker.SendAsync(handler, new DescribeLogDirsRequest { Topics = null }, 4);
        Assert.Equal((short)ErrorCode.ClusterAuthorizationFailed, refused.ErrorCode);
        Assert.Empty(refused.Results);

        Assert.All(broker.Core.Authorizer.Create([new AclBinding(AclResourceType.Cluster, AclBinding.ClusterName, AclPatternType.Literal, "User:ANONYMOUS", "*", AclOperation.Describe, AclPermissionType.Allow)]), Assert.Null);
        var allowed = await broker.SendAsync(handler, new DescribeLogDirsRequest { Topics = null }, 4);
        Assert.Equal((short)ErrorCode.None, allowed.ErrorCode);
        Assert.Equal("memory", allowed.Results.Single().LogDir);
        Assert.Equal(["sized"], allowed.Results.Single().Topics.Select(t => t.Name));
    }
}
