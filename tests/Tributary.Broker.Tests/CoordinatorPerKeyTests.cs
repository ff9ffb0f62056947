using Tributary.Broker.Groups;
using Tributary.Broker.Handlers;
using Tributary.Broker.ShareGroups;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests;

/// <summary>
/// Broker tier: a request naming several coordinator keys (groups, transactional ids) answers each key in its own
/// entry, as Kafka's brokers do: a key coordinated here gets its real answer, one coordinated elsewhere NOT_COORDINATOR,
/// one whose partition still loads COORDINATOR_LOAD_IN_PROGRESS. Which keys are "here" is given to each handler the way
/// <see cref="HandlerCatalog"/> gives it the coordinator's answer (CoordinateBy); the cluster tier
/// (Server.Tests CoordinatorPerKeyClusterTests) proves the same with two real coordinators.
/// </summary>
public sealed class CoordinatorPerKeyTests : IDisposable
{
    private const string Here = "billing";
    private const string Elsewhere = "ledger";
    private const string Loading = "audit";

    private readonly TestBroker _broker = new();

    public CoordinatorPerKeyTests() => _broker.CreateTopic("orders", 1);

    public void Dispose() => _broker.Dispose();

    private static ErrorCode CoordinatorError(string key) => key switch
    {
        Elsewhere => ErrorCode.NotCoordinator,
        Loading => ErrorCode.CoordinatorLoadInProgress,
        _ => ErrorCode.None,
    };

    private void Commit(string group, long offset) =>
        Assert.Equal([ErrorCode.None], _broker.Core.Groups.CommitOffsets(group, -1, "", null, [new OffsetCommitEntry("orders", 0, offset, -1, null)], 9));

    [Fact]
    public async Task DescribeGroups_describes_the_groups_coordinated_here_and_answers_the_others_in_their_entry()
    {
        Commit(Here, 5);
        Commit(Elsewhere, 6);
        var handler = new DescribeGroupsHandler(_broker.Core);
        handler.CoordinateBy(CoordinatorError);

        var response = await _broker.SendAsync(handler, new DescribeGroupsRequest { Groups = [Elsewhere, Here, Loading] }, 5);

        Assert.Equal([Elsewhere, Here, Loading], response.Groups.Select(g => g.GroupId));
        Assert.Equal([(short)ErrorCode.NotCoordinator, (short)ErrorCode.None, (short)ErrorCode.CoordinatorLoadInProgress], response.Groups.Select(g => g.ErrorCode));
        // Described for real: a group with only committed offsets is Empty (an unknown one would be Dead).
        Assert.Equal("Empty", response.Groups[1].GroupState);
        Assert.Equal("", response.Groups[0].GroupState);
    }

    [Fact]
    public async Task DeleteGroups_deletes_only_the_groups_coordinated_here()
    {
        Commit(Here, 5);
        Commit(Elsewhere, 6);
        var handler = new DeleteGroupsHandler(_broker.Core);
        handler.CoordinateBy(CoordinatorError);

        var response = await _broker.SendAsync(handler, new DeleteGroupsRequest { GroupsNames = [Here, Elsewhere] }, 2);

        Assert.Equal([(Here, (short)ErrorCode.None), (Elsewhere, (short)ErrorCode.NotCoordinator)], response.Results.Select(r => (r.GroupId, r.ErrorCode)));
        Assert.Empty(_broker.Core.Groups.FetchOffsets(Here));
        Assert.Equal(6, _broker.Core.Groups.FetchOffsets(Elsewhere)[("orders", 0)].Offset);
    }

    [Fact]
    public async Task OffsetFetch_v8_answers_each_group_in_its_own_entry()
    {
        Commit(Here, 5);
        Commit(Elsewhere, 6);
        var handler = new OffsetFetchHandler(_broker.Core);
        handler.CoordinateBy(CoordinatorError);
        OffsetFetchRequest.OffsetFetchRequestGroup Group(string id) =>
            new() { GroupId = id, Topics = [new OffsetFetchRequest.OffsetFetchRequestTopics { Name = "orders", PartitionIndexes = [0] }] };

        var response = await _broker.SendAsync(handler, new OffsetFetchRequest { Groups = [Group(Here), Group(Elsewhere), Group(Loading)] }, 8);

        Assert.Equal([(short)ErrorCode.None, (short)ErrorCode.NotCoordinator, (short)ErrorCode.CoordinatorLoadInProgress], response.Groups.Select(g => g.ErrorCode));
        Assert.Equal(5, Assert.Single(Assert.Single(response.Groups[0].Topics).Partitions).CommittedOffset);
        Assert.Empty(response.Groups[1].Topics);
        Assert.Empty(response.Groups[2].Topics);
    }

    [Fact]
    public async Task OffsetFetch_before_v8_names_one_group_and_is_refused_whole_when_it_is_elsewhere()
    {
        Commit(Elsewhere, 6);
        var handler = new OffsetFetchHandler(_broker.Core);
        handler.CoordinateBy(CoordinatorError);

        var response = await _broker.SendAsync(handler, new OffsetFetchRequest
        {
            GroupId = Elsewhere,
            Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = "orders", PartitionIndexes = [0] }],
        }, 7);

        Assert.Equal((short)ErrorCode.NotCoordinator, response.ErrorCode);
        Assert.Equal(-1, Assert.Single(Assert.Single(response.Topics).Partitions).CommittedOffset);
    }

    [Fact]
    public async Task ConsumerGroupDescribe_and_ShareGroupDescribe_answer_a_group_elsewhere_in_its_entry()
    {
        var consumer = new ConsumerGroupDescribeHandler(_broker.Core);
        consumer.CoordinateBy(CoordinatorError);
        var share = new ShareGroupDescribeHandler(_broker.Core);
        share.CoordinateBy(CoordinatorError);

        var consumers = await _broker.SendAsync(consumer, new ConsumerGroupDescribeRequest { GroupIds = [Here, Elsewhere, Loading] }, 0);
        var shares = await _broker.SendAsync(share, new ShareGroupDescribeRequest { GroupIds = [Here, Elsewhere, Loading] }, 1);

        // The group coordinated here is unknown, so it gets the coordinator's own answer for it: GROUP_ID_NOT_FOUND.
        short[] expected = [(short)ErrorCode.GroupIdNotFound, (short)ErrorCode.NotCoordinator, (short)ErrorCode.CoordinatorLoadInProgress];
        Assert.Equal(expected, consumers.Groups.Select(g => g.ErrorCode));
        Assert.Equal(expected, shares.Groups.Select(g => g.ErrorCode));
    }

    [Fact]
    public async Task DescribeTransactions_describes_the_ids_coordinated_here_and_answers_the_others_in_their_entry()
    {
        foreach (var id in new[] { Here, Elsewhere })
        {
            Assert.Equal(ErrorCode.None, _broker.Core.Transactions.InitProducerId(id, 60_000, -1, -1, fencedErrorSupported: true).Error);
        }

        var handler = new DescribeTransactionsHandler(_broker.Core);
        handler.CoordinateBy(CoordinatorError);

        var response = await _broker.SendAsync(handler, new DescribeTransactionsRequest { TransactionalIds = [Elsewhere, Here, Loading] }, 0);

        Assert.Equal([(short)ErrorCode.NotCoordinator, (short)ErrorCode.None, (short)ErrorCode.CoordinatorLoadInProgress], response.TransactionStates.Select(t => t.ErrorCode));
        Assert.Equal("Empty", response.TransactionStates[1].TransactionState);
        Assert.True(response.TransactionStates[1].ProducerId >= 0);
        Assert.Equal(-1, response.TransactionStates[0].ProducerId);
    }

    // A cluster-mode broker that has not joined a cluster coordinates nothing until told it leads a state partition,
    // as the role sink tells it; that partition of Kafka's 50 loads (empty) and its keys are served, the others refused.
    [Fact]
    public async Task ReadShareGroupState_serves_the_keys_of_the_state_partitions_led_here_and_refuses_the_others_per_partition()
    {
        using var clustered = new TestBroker("tributary.metadata.etcd.endpoints=http://127.0.0.1:1", "node.id=1");
        var coordinator = clustered.Core.ShareCoordinator;
        var topicId = Guid.NewGuid();
        var keys = Enumerable.Range(0, 20).Select(p => new SharePartitionKey("pickers", topicId, p)).ToList();
        var led = coordinator.PartitionFor(keys[0]);
        var elsewhere = keys.First(k => coordinator.PartitionFor(k) != led);
        Assert.Equal(50, clustered.Core.CoordinatorPartitionCount("__share_group_state"));
        Assert.Equal(ErrorCode.NotCoordinator, coordinator.CoordinatorErrorOf(led));

        coordinator.BecomeCoordinator(led);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (coordinator.CoordinatorErrorOf(led) != ErrorCode.None)
        {
            Assert.Equal(ErrorCode.CoordinatorLoadInProgress, coordinator.CoordinatorErrorOf(led));
            Assert.True(DateTime.UtcNow < deadline, "the state partition did not load");
            await Task.Delay(10);
        }

        var response = await clustered.SendAsync(new ReadShareGroupStateHandler(clustered.Core), new ReadShareGroupStateRequest
        {
            GroupId = "pickers",
            Topics = [new() { TopicId = topicId, Partitions = [new() { Partition = keys[0].Partition, LeaderEpoch = 0 }, new() { Partition = elsewhere.Partition, LeaderEpoch = 0 }] }],
        }, 0);

        var results = response.Results.Single().Partitions;
        Assert.Equal((keys[0].Partition, (short)ErrorCode.None, -1L), (results[0].Partition, results[0].ErrorCode, results[0].StartOffset));
        Assert.Equal((elsewhere.Partition, (short)ErrorCode.NotCoordinator), (results[1].Partition, results[1].ErrorCode));

        coordinator.Resign(led);
        Assert.Equal(ErrorCode.NotCoordinator, coordinator.CoordinatorErrorFor(keys[0]));
    }

    [Fact]
    public async Task AddPartitionsToTxn_v4_verifies_the_transactions_coordinated_here_and_answers_the_others_per_partition()
    {
        var (error, producerId, epoch) = _broker.Core.Transactions.InitProducerId(Here, 60_000, -1, -1, fencedErrorSupported: true);
        Assert.Equal(ErrorCode.None, error);
        var handler = new AddPartitionsToTxnHandler(_broker.Core);
        handler.CoordinateBy(CoordinatorError);
        AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction Verify(string id) => new()
        {
            TransactionalId = id,
            ProducerId = producerId,
            ProducerEpoch = epoch,
            VerifyOnly = true,
            Topics = [new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic { Name = "orders", Partitions = [0] }],
        };

        var response = await _broker.SendAsync(handler, new AddPartitionsToTxnRequest { Transactions = [Verify(Here), Verify(Elsewhere)] }, 4);

        Assert.Equal((short)ErrorCode.None, response.ErrorCode);
        var results = response.ResultsByTransaction.ToDictionary(r => r.TransactionalId, r => Assert.Single(Assert.Single(r.TopicResults).ResultsByPartition).PartitionErrorCode);
        // Here: the coordinator's own answer (the partition is not in a transaction that is not ongoing).
        Assert.Equal((short)ErrorCode.InvalidTxnState, results[Here]);
        Assert.Equal((short)ErrorCode.NotCoordinator, results[Elsewhere]);
    }
}
