using Tributary.Broker.Handlers;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests;

/// <summary>
/// ElectLeaders, AlterPartitionReassignments and ListPartitionReassignments on a single node (the only replica leads;
/// nothing to move) and their authorization (ALTER / DESCRIBE on the cluster). Cluster behaviour: EtcdReplicationTests.
/// </summary>
public sealed class PartitionLeadershipHandlersTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task ElectLeaders_on_a_single_node_is_not_needed_and_unknown_partitions_are_named(short version)
    {
        using var broker = new TestBroker("node.id=1");
        broker.CreateTopic("orders", partitions: 2);

        var response = await broker.SendAsync(new ElectLeadersHandler(broker.Core), new ElectLeadersRequest
        {
            TopicPartitions = [new() { Topic = "orders", Partitions = [0, 1, 7] }, new() { Topic = "missing", Partitions = [0] }],
        }, version);

        Assert.Equal(0, response.ErrorCode);
        var results = response.ReplicaElectionResults.SelectMany(t => t.PartitionResult.Select(p => (t.Topic, p.PartitionId, (ErrorCode)p.ErrorCode))).ToList();
        Assert.Equal([("orders", 0, ErrorCode.ElectionNotNeeded), ("orders", 1, ErrorCode.ElectionNotNeeded), ("orders", 7, ErrorCode.UnknownTopicOrPartition), ("missing", 0, ErrorCode.UnknownTopicOrPartition)], results);

        // Every partition (null): only those where an election happened are listed, none here.
        var all = await broker.SendAsync(new ElectLeadersHandler(broker.Core), new ElectLeadersRequest { TopicPartitions = null }, version);
        Assert.Empty(all.ReplicaElectionResults);
    }

    [Fact]
    public async Task ElectLeaders_refuses_an_unknown_election_type()
    {
        using var broker = new TestBroker();

        var response = await broker.SendAsync(new ElectLeadersHandler(broker.Core), new ElectLeadersRequest { ElectionType = 5, TopicPartitions = [] }, 1);

        Assert.Equal((short)ErrorCode.InvalidRequest, response.ErrorCode);
    }

    [Fact]
    public async Task A_reassignment_on_a_single_node_takes_only_this_broker_and_none_is_in_progress()
    {
        using var broker = new TestBroker("node.id=1");
        broker.CreateTopic("orders");

        var response = await broker.SendAsync(new AlterPartitionReassignmentsHandler(broker.Core), new AlterPartitionReassignmentsRequest
        {
            Topics =
            [
                new() { Name = "orders", Partitions = [new() { PartitionIndex = 0, Replicas = [1] }] },
                new() { Name = "orders", Partitions = [new() { PartitionIndex = 0, Replicas = [1, 2] }] },
                new() { Name = "orders", Partitions = [new() { PartitionIndex = 0, Replicas = null }] },
                new() { Name = "missing", Partitions = [new() { PartitionIndex = 0, Replicas = [1] }] },
            ],
        }, 1);

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal([ErrorCode.None, ErrorCode.InvalidReplicaAssignment, ErrorCode.NoReassignmentInProgress, ErrorCode.UnknownTopicOrPartition],
            response.Responses.SelectMany(t => t.Partitions).Select(p => (ErrorCode)p.ErrorCode));
        var listed = await broker.SendAsync(new ListPartitionReassignmentsHandler(broker.Core), new ListPartitionReassignmentsRequest(), 0);
        Assert.Equal(0, listed.ErrorCode);
        Assert.Empty(listed.Topics);
    }

    [Fact]
    public async Task The_three_apis_need_alter_or_describe_on_the_cluster()
    {
        using var broker = new TestBroker("authorizer.class.name=" + Authorizer.StandardAuthorizerClass);
        broker.CreateTopic("orders");
        var elect = new ElectLeadersHandler(broker.Core);
        var alter = new AlterPartitionReassignmentsHandler(broker.Core);
        var list = new ListPartitionReassignmentsHandler(broker.Core);
        var electRequest = new ElectLeadersRequest { TopicPartitions = [new() { Topic = "orders", Partitions = [0] }] };

        var refused = await broker.SendAsync(elect, electRequest, 2);
        Assert.Equal((short)ErrorCode.ClusterAuthorizationFailed, refused.ErrorCode);
        Assert.Equal((short)ErrorCode.ClusterAuthorizationFailed, refused.ReplicaElectionResults.Single().PartitionResult.Single().ErrorCode);
        Assert.Equal((short)ErrorCode.ClusterAuthorizationFailed, (await broker.SendAsync(alter, new AlterPartitionReassignmentsRequest(), 1)).ErrorCode);
        Assert.Equal((short)ErrorCode.ClusterAuthorizationFailed, (await broker.SendAsync(list, new ListPartitionReassignmentsRequest(), 0)).ErrorCode);

        // DESCRIBE on the cluster lets the listing through, not the changes (ALTER).
        broker.Core.Authorizer.Create([new AclBinding(AclResourceType.Cluster, AclBinding.ClusterName, AclPatternType.Literal, "User:ANONYMOUS", "*", AclOperation.Describe, AclPermissionType.Allow)]);
        Assert.Equal(0, (await broker.SendAsync(list, new ListPartitionReassignmentsRequest(), 0)).ErrorCode);
        Assert.Equal((short)ErrorCode.ClusterAuthorizationFailed, (await broker.SendAsync(elect, electRequest, 2)).ErrorCode);

        broker.Core.Authorizer.Create([new AclBinding(AclResourceType.Cluster, AclBinding.ClusterName, AclPatternType.Literal, "User:ANONYMOUS", "*", AclOperation.Alter, AclPermissionType.Allow)]);
        var allowed = await broker.SendAsync(elect, electRequest, 2);
        Assert.Equal(0, allowed.ErrorCode);
        Assert.Equal((short)ErrorCode.ElectionNotNeeded, allowed.ReplicaElectionResults.Single().PartitionResult.Single().ErrorCode);
    }
}
