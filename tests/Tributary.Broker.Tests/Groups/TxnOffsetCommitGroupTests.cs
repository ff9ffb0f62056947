using Tributary.Broker.Config;
using Tributary.Broker.Handlers;
using Tributary.Broker.Tests.Transactions;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Groups;

// Broker tier: TxnOffsetCommit against a classic group, as Kafka's group coordinator checks it when the offsets are
// sent (the member, instance and generation the request names), and what it does not do: keep a session alive.
public sealed class TxnOffsetCommitGroupTests : IDisposable
{
    private const string Group = "ledger";
    private const string TxId = "ledger-tx";
    private readonly TransactionTestBroker _kafka = new(config: new BrokerConfig { GroupInitialRebalanceDelayMs = 0 });
    private readonly JoinGroupHandler _join;
    private readonly SyncGroupHandler _sync;
    private readonly DescribeGroupsHandler _describe;

    public TxnOffsetCommitGroupTests()
    {
        _join = new JoinGroupHandler(_kafka.Broker);
        _sync = new SyncGroupHandler(_kafka.Broker);
        _describe = new DescribeGroupsHandler(_kafka.Broker);
    }

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task The_member_instance_and_generation_a_TxnOffsetCommit_names_are_checked_against_the_group()
    {
        var member = await JoinStableAsync("pod-a");
        var (producerId, epoch) = await BeginAsync(Group, "unknown-group");

        Assert.Equal(ErrorCode.IllegalGeneration, await SendOffsetsAsync(producerId, epoch, Group, 0, member, "pod-a"));
        Assert.Equal(ErrorCode.UnknownMemberId, await SendOffsetsAsync(producerId, epoch, Group, 1, "stranger", null));
        Assert.Equal(ErrorCode.UnknownMemberId, await SendOffsetsAsync(producerId, epoch, Group, 1, member, "ghost"));
        Assert.Equal(ErrorCode.FencedInstanceId, await SendOffsetsAsync(producerId, epoch, Group, 1, "stranger", "pod-a"));
        Assert.Equal(ErrorCode.IllegalGeneration, await SendOffsetsAsync(producerId, epoch, "unknown-group", 1, "stranger", null));
        Assert.Equal(ErrorCode.None, await SendOffsetsAsync(producerId, epoch, Group, 1, member, "pod-a", offset: 7));

        // v0-2 name no member: accepted although the group has members (only OffsetCommit refuses that).
        Assert.Equal(ErrorCode.None, await SendOffsetsAsync(producerId, epoch, Group, -1, "", null, offset: 8, version: 2));
        Assert.Equal(ErrorCode.None, await _kafka.EndAsync(TxId, producerId, epoch, commit: true));
        Assert.Equal(8, _kafka.Broker.Groups.FetchOffsets(Group)[(TransactionTestBroker.Topic, 0)].Offset);
    }

    [Fact]
    public async Task A_TxnOffsetCommit_does_not_keep_a_member_session_alive()
    {
        var member = await JoinStableAsync("pod-a");
        var (producerId, epoch) = await BeginAsync(Group);

        // Kafka refreshes a session on OffsetCommit only: 8 s + 3 s without a heartbeat ends the 10 s session.
        _kafka.Time.Advance(TimeSpan.FromSeconds(8));
        Assert.Equal(ErrorCode.None, await SendOffsetsAsync(producerId, epoch, Group, 1, member, "pod-a"));
        _kafka.Time.Advance(TimeSpan.FromSeconds(3));

        var described = await GroupTestBroker.CallAsync(_describe, new DescribeGroupsRequest { Groups = [Group] }, 5);
        Assert.Equal(("Empty", 0), (described.Groups.Single().GroupState, described.Groups.Single().Members.Count));
    }

    /// <summary>A static member alone in a Stable generation 1; returns its member id.</summary>
    private async Task<string> JoinStableAsync(string instanceId)
    {
        var joined = await GroupTestBroker.CallAsync(_join, GroupTestBroker.JoinRequest(Group, instanceId: instanceId), 9);
        Assert.Equal((short)ErrorCode.None, joined.ErrorCode);
        var sync = await GroupTestBroker.CallAsync(_sync, new SyncGroupRequest
        {
            GroupId = Group,
            GenerationId = 1,
            MemberId = joined.MemberId,
            GroupInstanceId = instanceId,
            Assignments = [new SyncGroupRequest.SyncGroupRequestAssignment { MemberId = joined.MemberId, Assignment = [1] }],
        }, 5);
        Assert.Equal((short)ErrorCode.None, sync.ErrorCode);
        return joined.MemberId;
    }

    /// <summary>A transaction with the groups added to it (AddOffsetsToTxn).</summary>
    private async Task<(long ProducerId, short Epoch)> BeginAsync(params string[] groups)
    {
        var (error, producerId, epoch) = await _kafka.InitAsync(TxId);
        Assert.Equal(ErrorCode.None, error);
        foreach (var group in groups)
        {
            var add = await GroupTestBroker.CallAsync(_kafka.AddOffsets, new AddOffsetsToTxnRequest { TransactionalId = TxId, ProducerId = producerId, ProducerEpoch = epoch, GroupId = group }, 3);
            Assert.Equal((short)ErrorCode.None, add.ErrorCode);
        }

        return (producerId, epoch);
    }

    private async Task<ErrorCode> SendOffsetsAsync(long producerId, short epoch, string group, int generation, string memberId, string? instanceId, long offset = 1, short version = 3)
    {
        var response = await GroupTestBroker.CallAsync(_kafka.TxnOffsetCommit, new TxnOffsetCommitRequest
        {
            TransactionalId = TxId,
            GroupId = group,
            ProducerId = producerId,
            ProducerEpoch = epoch,
            GenerationId = generation,
            MemberId = memberId,
            GroupInstanceId = instanceId,
            Topics = [new TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic
            {
                Name = TransactionTestBroker.Topic,
                Partitions = [new TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition { PartitionIndex = 0, CommittedOffset = offset }],
            }],
        }, version);
        return (ErrorCode)response.Topics.Single().Partitions.Single().ErrorCode;
    }
}
