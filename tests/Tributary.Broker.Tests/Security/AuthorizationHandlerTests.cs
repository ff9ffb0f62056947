using Tributary.Broker.Dispatch;
using Tributary.Broker.Handlers;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using static Tributary.Broker.Security.Authorization.AclOperation;
using static Tributary.Broker.Security.Authorization.AclResourceType;

namespace Tributary.Broker.Tests.Security;

/// <summary>
/// Each API checks what Kafka's KafkaApis checks, with its error codes, for a client (User:ANONYMOUS) holding only
/// the ACLs a test grants it; the same request passes once the ACL it needs is granted.
/// </summary>
public sealed class AuthorizationHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new("authorizer.class.name=" + Authorizer.StandardAuthorizerClass);

    public AuthorizationHandlerTests()
    {
        _broker.CreateTopic("orders", 2);
        _broker.CreateTopic("secret");
    }

    private void Grant(AclResourceType type, string name, AclOperation operation, AclPermissionType permission = AclPermissionType.Allow) =>
        Assert.All(_broker.Core.Authorizer.Create([new AclBinding(type, name, AclPatternType.Literal, "User:ANONYMOUS", "*", operation, permission)]), Assert.Null);

    private Task<TResponse> Send<TRequest, TResponse>(ApiHandler<TRequest, TResponse> handler, TRequest request, short version)
        where TRequest : class, IKafkaMessage<TRequest>
        where TResponse : class, IKafkaMessage<TResponse> => _broker.SendAsync(handler, request, version);

    [Fact]
    public async Task Metadata_leaves_out_topics_without_describe_and_refuses_those_named()
    {
        Grant(Topic, "orders", Read);
        var handler = new MetadataHandler(_broker.Core);

        var all = await Send(handler, new MetadataRequest { Topics = null }, 12);
        var named = await Send(handler, new MetadataRequest { Topics = [new() { Name = "orders" }, new() { Name = "secret" }], AllowAutoTopicCreation = false }, 12);

        Assert.Equal(["orders"], all.Topics.Select(t => t.Name));
        Assert.Equal([(short)0, (short)ErrorCode.TopicAuthorizationFailed], named.Topics.Select(t => t.ErrorCode));
        Assert.Empty(named.Topics[1].Partitions);
    }

    [Fact]
    public async Task Metadata_creates_a_missing_topic_only_with_create_on_the_topic_or_cluster()
    {
        // As in Kafka, CREATE alone is not enough: a topic without DESCRIBE is refused before creation is considered.
        Grant(Topic, "new-a", Describe);
        Grant(Topic, "new-b", Describe);
        Grant(Topic, "new-b", Create);
        Grant(Topic, "new-c", Create);
        var handler = new MetadataHandler(_broker.Core);
        MetadataRequest Ask(string name) => new() { Topics = [new() { Name = name }], AllowAutoTopicCreation = true };

        Assert.Equal((short)ErrorCode.TopicAuthorizationFailed, (await Send(handler, Ask("new-a"), 12)).Topics.Single().ErrorCode);
        Assert.Null(_broker.Core.Metadata.Find("new-a"));
        Assert.Equal(0, (await Send(handler, Ask("new-b"), 12)).Topics.Single().ErrorCode);
        Assert.Equal((short)ErrorCode.TopicAuthorizationFailed, (await Send(handler, Ask("new-c"), 12)).Topics.Single().ErrorCode);

        Grant(AclResourceType.Cluster, AclBinding.ClusterName, Create);
        Assert.Equal(0, (await Send(handler, Ask("new-a"), 12)).Topics.Single().ErrorCode);
        Assert.NotNull(_broker.Core.Metadata.Find("new-a"));
    }

    [Fact]
    public async Task Metadata_and_describe_cluster_answer_the_operations_the_acls_allow()
    {
        Grant(Topic, "orders", Write);
        Grant(AclResourceType.Cluster, AclBinding.ClusterName, Describe);

        var metadata = await Send(new MetadataHandler(_broker.Core), new MetadataRequest { Topics = [new() { Name = "orders" }], IncludeTopicAuthorizedOperations = true, IncludeClusterAuthorizedOperations = true }, 10);
        var cluster = await Send(new DescribeClusterHandler(_broker.Core), new DescribeClusterRequest { IncludeClusterAuthorizedOperations = true }, 1);

        Assert.Equal((1 << (int)Write) | (1 << (int)Describe), metadata.Topics.Single().TopicAuthorizedOperations);
        Assert.Equal(1 << (int)Describe, metadata.ClusterAuthorizedOperations);
        Assert.Equal(1 << (int)Describe, cluster.ClusterAuthorizedOperations);
    }

    [Fact]
    public async Task Produce_needs_write_on_the_topic_and_on_a_transactional_id()
    {
        Grant(Topic, "orders", Write);
        var handler = new ProduceHandler(_broker.Core, Microsoft.Extensions.Logging.Abstractions.NullLogger<ProduceHandler>.Instance);
        ProduceRequest Request(string? transactionalId, params string[] topics) => new()
        {
            Acks = -1,
            TimeoutMs = 1000,
            TransactionalId = transactionalId,
            TopicData = [.. topics.Select(t => new ProduceRequest.TopicProduceData { Name = t, PartitionData = [new() { Index = 0, Records = TestBroker.Batch("v") }] })],
        };

        var produced = await Send(handler, Request(null, "orders", "secret", "missing"), 11);
        var transactional = await Send(handler, Request("tx", "orders"), 11);

        Assert.Equal([(short)0, (short)ErrorCode.TopicAuthorizationFailed, (short)ErrorCode.TopicAuthorizationFailed], produced.Responses.Select(r => r.PartitionResponses.Single().ErrorCode));
        Assert.Equal((short)ErrorCode.TransactionalIdAuthorizationFailed, transactional.Responses.Single().PartitionResponses.Single().ErrorCode);
        Assert.Equal(1, _broker.Core.FindLog(_broker.Topic("orders"), 0)!.HighWatermark);
    }

    [Fact]
    public async Task A_follower_fetch_needs_cluster_action_instead_of_read_on_the_topics()
    {
        Grant(Topic, "orders", Read);
        var fetch = new FetchRequest { ReplicaId = 2, MaxWaitMs = 0, MinBytes = 0, MaxBytes = 1 << 20, SessionEpoch = -1 };
        fetch.Topics.Add(new FetchRequest.FetchTopic { Topic = "orders", Partitions = [new() { Partition = 0, PartitionMaxBytes = 1 << 20 }] });
        fetch.Topics.Add(new FetchRequest.FetchTopic { Topic = "secret", Partitions = [new() { Partition = 0, PartitionMaxBytes = 1 << 20 }] });
        var handler = new FetchHandler(_broker.Core);

        // As Kafka's KafkaApis: READ on a topic does not let a replica fetch it; CLUSTER_ACTION lets it fetch every one.
        var refused = await Send(handler, fetch, 12);
        Grant(AclResourceType.Cluster, AclBinding.ClusterName, ClusterAction);
        var allowed = await Send(handler, fetch, 12);

        Assert.Equal([(short)ErrorCode.TopicAuthorizationFailed, (short)ErrorCode.TopicAuthorizationFailed], refused.Responses.Select(r => r.Partitions.Single().ErrorCode));
        Assert.Equal([(short)0, (short)0], allowed.Responses.Select(r => r.Partitions.Single().ErrorCode));
    }

    [Fact]
    public async Task A_super_user_fetches_as_a_follower_without_any_acl()
    {
        using var broker = new TestBroker("authorizer.class.name=" + Authorizer.StandardAuthorizerClass, "super.users=User:ANONYMOUS");
        broker.CreateTopic("secret");
        var fetch = new FetchRequest { ReplicaId = 2, MaxWaitMs = 0, MinBytes = 0, MaxBytes = 1 << 20, SessionEpoch = -1 };
        fetch.Topics.Add(new FetchRequest.FetchTopic { Topic = "secret", Partitions = [new() { Partition = 0, PartitionMaxBytes = 1 << 20 }] });

        var fetched = await broker.SendAsync(new FetchHandler(broker.Core), fetch, 12);

        Assert.Equal(0, fetched.Responses.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task Fetch_and_list_offsets_need_read_and_describe_on_the_topic()
    {
        Grant(Topic, "orders", Read);
        var fetch = new FetchRequest { MaxWaitMs = 0, MinBytes = 0, MaxBytes = 1 << 20, SessionEpoch = -1 };
        fetch.Topics.Add(new FetchRequest.FetchTopic { Topic = "orders", Partitions = [new() { Partition = 0, PartitionMaxBytes = 1 << 20 }] });
        fetch.Topics.Add(new FetchRequest.FetchTopic { Topic = "secret", Partitions = [new() { Partition = 0, PartitionMaxBytes = 1 << 20 }] });
        var listOffsets = new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics = [.. new[] { "orders", "secret" }.Select(t => new ListOffsetsRequest.ListOffsetsTopic { Name = t, Partitions = [new() { PartitionIndex = 0, Timestamp = -1 }] })],
        };

        var fetched = await Send(new FetchHandler(_broker.Core), fetch, 12);
        var listed = await Send(new ListOffsetsHandler(_broker.Core), listOffsets, 9);

        Assert.Equal([(short)0, (short)ErrorCode.TopicAuthorizationFailed], fetched.Responses.Select(r => r.Partitions.Single().ErrorCode));
        Assert.Equal([(short)0, (short)ErrorCode.TopicAuthorizationFailed], listed.Topics.Select(t => t.Partitions.Single().ErrorCode));
    }

    [Fact]
    public async Task Topic_administration_needs_create_delete_and_alter()
    {
        Grant(Topic, "mine", Create);
        Grant(Topic, "orders", Delete);
        var created = await Send(new CreateTopicsHandler(_broker.Core), new CreateTopicsRequest
        {
            Topics = [new() { Name = "mine", NumPartitions = 1, ReplicationFactor = 1 }, new() { Name = "theirs", NumPartitions = 1, ReplicationFactor = 1 }],
        }, 7);
        var grown = await Send(new CreatePartitionsHandler(_broker.Core), new CreatePartitionsRequest { Topics = [new() { Name = "orders", Count = 3 }] }, 3);
        var deleted = await Send(new DeleteTopicsHandler(_broker.Core), new DeleteTopicsRequest { Topics = [new() { Name = "orders" }, new() { Name = "secret" }] }, 6);

        Assert.Equal([(short)0, (short)ErrorCode.TopicAuthorizationFailed], created.Topics.Select(t => t.ErrorCode));
        Assert.Equal((short)ErrorCode.TopicAuthorizationFailed, grown.Results.Single().ErrorCode);
        Assert.Equal([(short)0, (short)ErrorCode.TopicAuthorizationFailed], deleted.Responses.Select(r => r.ErrorCode));
        Assert.NotNull(_broker.Core.Metadata.Find("secret"));
    }

    [Fact]
    public async Task Configs_are_checked_per_resource_on_the_topic_group_or_cluster()
    {
        Grant(Topic, "orders", AlterConfigs);
        var described = await Send(new DescribeConfigsHandler(_broker.Core), new DescribeConfigsRequest
        {
            Resources = [new() { ResourceType = 2, ResourceName = "orders" }, new() { ResourceType = 2, ResourceName = "secret" }, new() { ResourceType = 4, ResourceName = "" }, new() { ResourceType = 32, ResourceName = "g" }],
        }, 4);
        var altered = await Send(new IncrementalAlterConfigsHandler(_broker.Core), new IncrementalAlterConfigsRequest
        {
            Resources =
            [
                new() { ResourceType = 2, ResourceName = "orders", Configs = [new() { Name = "retention.ms", ConfigOperation = 0, Value = "1000" }] },
                new() { ResourceType = 4, ResourceName = "", Configs = [new() { Name = "log.retention.ms", ConfigOperation = 0, Value = "1000" }] },
            ],
        }, 1);

        Assert.Equal([(short)0, (short)ErrorCode.TopicAuthorizationFailed, (short)ErrorCode.ClusterAuthorizationFailed, (short)ErrorCode.GroupAuthorizationFailed], described.Results.Select(r => r.ErrorCode));
        Assert.Equal([(short)0, (short)ErrorCode.ClusterAuthorizationFailed], altered.Responses.Select(r => r.ErrorCode));
    }

    [Fact]
    public async Task Find_coordinator_needs_describe_on_the_group_or_transactional_id()
    {
        Grant(Group, "g", Read);
        var handler = new FindCoordinatorHandler(_broker.Core);

        var groups = await Send(handler, new FindCoordinatorRequest { KeyType = 0, CoordinatorKeys = ["g", "other"] }, 4);
        var transaction = await Send(handler, new FindCoordinatorRequest { KeyType = 1, Key = "tx" }, 3);

        Assert.Equal([(short)0, (short)ErrorCode.GroupAuthorizationFailed], groups.Coordinators.Select(c => c.ErrorCode));
        Assert.Equal((short)ErrorCode.TransactionalIdAuthorizationFailed, transaction.ErrorCode);
    }

    [Fact]
    public async Task Group_membership_needs_read_on_the_group()
    {
        var joined = await Send(new JoinGroupHandler(_broker.Core), new JoinGroupRequest
        {
            GroupId = "g",
            SessionTimeoutMs = 10_000,
            RebalanceTimeoutMs = 10_000,
            ProtocolType = "consumer",
            Protocols = [new() { Name = "range", Metadata = [] }],
        }, 9);
        var heartbeat = await Send(new HeartbeatHandler(_broker.Core), new HeartbeatRequest { GroupId = "g", MemberId = "m", GenerationId = 1 }, 4);
        var consumer = await Send(new ConsumerGroupHeartbeatHandler(_broker.Core), new ConsumerGroupHeartbeatRequest { GroupId = "g", MemberId = "m", MemberEpoch = 0, RebalanceTimeoutMs = 1000, SubscribedTopicNames = ["orders"] }, 1);

        Assert.Equal((short)ErrorCode.GroupAuthorizationFailed, joined.ErrorCode);
        Assert.Equal((short)ErrorCode.GroupAuthorizationFailed, heartbeat.ErrorCode);
        Assert.Equal((short)ErrorCode.GroupAuthorizationFailed, consumer.ErrorCode);

        // With READ on the group, a KIP-848 subscription to a topic the member may not DESCRIBE is refused.
        Grant(Group, "g", Read);
        var subscribed = await Send(new ConsumerGroupHeartbeatHandler(_broker.Core), new ConsumerGroupHeartbeatRequest { GroupId = "g", MemberId = "m", MemberEpoch = 0, RebalanceTimeoutMs = 1000, SubscribedTopicNames = ["orders"] }, 1);
        Assert.Equal((short)ErrorCode.TopicAuthorizationFailed, subscribed.ErrorCode);
    }

    [Fact]
    public async Task Offset_commit_needs_read_on_the_group_and_each_topic()
    {
        var handler = new OffsetCommitHandler(_broker.Core);
        OffsetCommitRequest Commit() => new()
        {
            GroupId = "g",
            GenerationIdOrMemberEpoch = -1,
            MemberId = "",
            Topics = [.. new[] { "orders", "secret" }.Select(t => new OffsetCommitRequest.OffsetCommitRequestTopic { Name = t, Partitions = [new() { PartitionIndex = 0, CommittedOffset = 0 }] })],
        };

        Assert.All((await Send(handler, Commit(), 9)).Topics, t => Assert.Equal((short)ErrorCode.GroupAuthorizationFailed, t.Partitions.Single().ErrorCode));

        Grant(Group, "g", Read);
        Grant(Topic, "orders", Read);
        var committed = await Send(handler, Commit(), 9);

        Assert.Equal([(short)0, (short)ErrorCode.TopicAuthorizationFailed], committed.Topics.Select(t => t.Partitions.Single().ErrorCode));
        Assert.Equal([("orders", 0)], _broker.Core.Groups.FetchOffsets("g").Keys);
    }

    [Fact]
    public async Task Offset_fetch_needs_describe_on_the_group_and_leaves_out_topics_without_it()
    {
        Grant(Group, "g", Read);
        Grant(Topic, "orders", Read);
        Grant(Topic, "secret", Read);
        await Send(new OffsetCommitHandler(_broker.Core), new OffsetCommitRequest
        {
            GroupId = "g",
            GenerationIdOrMemberEpoch = -1,
            MemberId = "",
            Topics = [.. new[] { "orders", "secret" }.Select(t => new OffsetCommitRequest.OffsetCommitRequestTopic { Name = t, Partitions = [new() { PartitionIndex = 0, CommittedOffset = 5 }] })],
        }, 9);
        Grant(Topic, "secret", Describe, AclPermissionType.Deny);
        var handler = new OffsetFetchHandler(_broker.Core);

        var all = await Send(handler, new OffsetFetchRequest { Groups = [new() { GroupId = "g", Topics = null }, new() { GroupId = "h", Topics = null }] }, 8);
        var named = await Send(handler, new OffsetFetchRequest { GroupId = "g", Topics = [new() { Name = "orders", PartitionIndexes = [0] }, new() { Name = "secret", PartitionIndexes = [0] }] }, 7);

        Assert.Equal(["orders"], all.Groups[0].Topics.Select(t => t.Name));
        Assert.Equal((short)ErrorCode.GroupAuthorizationFailed, all.Groups[1].ErrorCode);
        Assert.Equal([(5L, (short)0), (-1L, (short)ErrorCode.TopicAuthorizationFailed)], named.Topics.Select(t => (t.Partitions.Single().CommittedOffset, t.Partitions.Single().ErrorCode)));
    }

    [Fact]
    public async Task Groups_are_described_listed_and_deleted_only_with_their_acls()
    {
        Grant(Group, "a", Read);
        Grant(Group, "b", Read);
        Grant(Topic, "orders", Read);
        foreach (var group in new[] { "a", "b" })
        {
            await Send(new OffsetCommitHandler(_broker.Core), new OffsetCommitRequest
            {
                GroupId = group,
                GenerationIdOrMemberEpoch = -1,
                MemberId = "",
                Topics = [new() { Name = "orders", Partitions = [new() { PartitionIndex = 0, CommittedOffset = 1 }] }],
            }, 9);
        }

        Grant(Group, "b", Describe, AclPermissionType.Deny);
        Grant(Group, "a", Delete);

        var described = await Send(new DescribeGroupsHandler(_broker.Core), new DescribeGroupsRequest { Groups = ["a", "b"], IncludeAuthorizedOperations = true }, 5);
        var listed = await Send(new ListGroupsHandler(_broker.Core), new ListGroupsRequest(), 4);
        var deleted = await Send(new DeleteGroupsHandler(_broker.Core), new DeleteGroupsRequest { GroupsNames = ["a", "b"] }, 2);

        Assert.Equal([(short)0, (short)ErrorCode.GroupAuthorizationFailed], described.Groups.Select(g => g.ErrorCode));
        Assert.Equal((1 << (int)Read) | (1 << (int)Describe) | (1 << (int)Delete), described.Groups[0].AuthorizedOperations);
        Assert.Equal(["a"], listed.Groups.Select(g => g.GroupId));
        Assert.Equal([(short)0, (short)ErrorCode.GroupAuthorizationFailed], deleted.Results.Select(r => r.ErrorCode));
    }

    [Fact]
    public async Task Init_producer_id_needs_write_on_the_transactional_id_or_idempotent_write_or_write_on_a_topic()
    {
        var handler = new InitProducerIdHandler(_broker.Core);
        InitProducerIdRequest Init(string? transactionalId) => new() { TransactionalId = transactionalId, TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 };

        Assert.Equal((short)ErrorCode.ClusterAuthorizationFailed, (await Send(handler, Init(null), 5)).ErrorCode);
        Assert.Equal((short)ErrorCode.TransactionalIdAuthorizationFailed, (await Send(handler, Init("tx"), 5)).ErrorCode);

        Grant(Topic, "orders", Write);
        Grant(TransactionalId, "tx", Write);
        Assert.Equal(0, (await Send(handler, Init(null), 5)).ErrorCode);
        Assert.Equal(0, (await Send(handler, Init("tx"), 5)).ErrorCode);
    }

    [Fact]
    public async Task Transactions_need_write_on_their_id_and_read_on_the_group()
    {
        Grant(TransactionalId, "tx", Write);
        var init = await Send(new InitProducerIdHandler(_broker.Core), new InitProducerIdRequest { TransactionalId = "tx", TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 }, 5);

        var other = await Send(new EndTxnHandler(_broker.Core), new EndTxnRequest { TransactionalId = "other", ProducerId = init.ProducerId, ProducerEpoch = init.ProducerEpoch }, 4);
        var offsets = await Send(new AddOffsetsToTxnHandler(_broker.Core), new AddOffsetsToTxnRequest { TransactionalId = "tx", ProducerId = init.ProducerId, ProducerEpoch = init.ProducerEpoch, GroupId = "g" }, 4);
        var partitions = await Send(new AddPartitionsToTxnHandler(_broker.Core), new AddPartitionsToTxnRequest
        {
            V3AndBelowTransactionalId = "tx",
            V3AndBelowProducerId = init.ProducerId,
            V3AndBelowProducerEpoch = init.ProducerEpoch,
            V3AndBelowTopics = [new() { Name = "orders", Partitions = [0] }, new() { Name = "secret", Partitions = [0] }],
        }, 3);
        var described = await Send(new DescribeTransactionsHandler(_broker.Core), new DescribeTransactionsRequest { TransactionalIds = ["tx"] }, 0);

        Assert.Equal((short)ErrorCode.TransactionalIdAuthorizationFailed, other.ErrorCode);
        Assert.Equal((short)ErrorCode.GroupAuthorizationFailed, offsets.ErrorCode);
        Assert.Equal([(short)ErrorCode.TopicAuthorizationFailed, (short)ErrorCode.TopicAuthorizationFailed],
            partitions.ResultsByTopicV3AndBelow.Select(t => t.ResultsByPartition.Single().PartitionErrorCode).Order());
        Assert.Equal(0, described.TransactionStates.Single().ErrorCode);

        Grant(Topic, "orders", Write);
        var some = await Send(new AddPartitionsToTxnHandler(_broker.Core), new AddPartitionsToTxnRequest
        {
            V3AndBelowTransactionalId = "tx",
            V3AndBelowProducerId = init.ProducerId,
            V3AndBelowProducerEpoch = init.ProducerEpoch,
            V3AndBelowTopics = [new() { Name = "orders", Partitions = [0] }, new() { Name = "secret", Partitions = [0] }],
        }, 3);
        Assert.Equal([(short)ErrorCode.OperationNotAttempted, (short)ErrorCode.TopicAuthorizationFailed], some.ResultsByTopicV3AndBelow.Select(t => t.ResultsByPartition.Single().PartitionErrorCode));
    }

    [Fact]
    public async Task Scram_credentials_need_describe_and_alter_on_the_cluster()
    {
        var described = await Send(new DescribeUserScramCredentialsHandler(_broker.Core), new DescribeUserScramCredentialsRequest { Users = null }, 0);
        var altered = await Send(new AlterUserScramCredentialsHandler(_broker.Core), new AlterUserScramCredentialsRequest
        {
            Deletions = [new() { Name = "bob", Mechanism = 1 }],
        }, 0);

        Assert.Equal((short)ErrorCode.ClusterAuthorizationFailed, described.ErrorCode);
        Assert.Equal((short)ErrorCode.ClusterAuthorizationFailed, altered.Results.Single().ErrorCode);
    }

    public void Dispose() => _broker.Dispose();
}
