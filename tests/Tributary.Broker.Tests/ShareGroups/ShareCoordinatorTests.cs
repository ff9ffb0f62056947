using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.ShareGroups;

// Broker tier: the share coordinator's five RPCs (KIP-932, broker to broker) on a single node, raw: state written
// with Kafka's delta semantics, leader and state epochs fencing, deletion, the summary, and that it is the same
// state the node's own share partitions use (ShareFetch after a restart).
public sealed class ShareCoordinatorTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tributary-share-coordinator-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Writes_apply_as_deltas_and_reads_return_the_state()
    {
        using var kafka = new ShareTestBroker(new ManualTimeProvider(), _directory);
        var uninitialized = await ReadAsync(kafka, "g", 0);
        Assert.Equal((0, -1L), (uninitialized.ErrorCode, uninitialized.StartOffset));

        Assert.Equal(0, await InitializeAsync(kafka, "g", stateEpoch: 0, startOffset: 5));
        var initialized = await ReadAsync(kafka, "g", 0);
        Assert.Equal((0, 5L), (initialized.ErrorCode, initialized.StartOffset));
        Assert.Empty(initialized.StateBatches);

        // Offsets 5-6 acknowledged (2), 7-9 available (0) after one delivery; then 7 acknowledged and the start moved.
        Assert.Equal(0, await WriteAsync(kafka, "g", 0, 0, 5, (5, 6, 2, 1), (7, 9, 0, 1)));
        Assert.Equal(0, await WriteAsync(kafka, "g", 0, 0, 7, (7, 7, 2, 1)));
        var state = await ReadAsync(kafka, "g", 0);
        Assert.Equal(7L, state.StartOffset);
        Assert.Equal([(7L, 7L, (sbyte)2, (short)1), (8L, 9L, (sbyte)0, (short)1)], state.StateBatches.Select(b => (b.FirstOffset, b.LastOffset, b.DeliveryState, b.DeliveryCount)));

        var summary = await kafka.SendAsync(new ReadShareGroupStateSummaryHandler(kafka.Core), new ReadShareGroupStateSummaryRequest
        {
            GroupId = "g",
            Topics = [new() { TopicId = kafka.TopicId, Partitions = [new() { Partition = 0, LeaderEpoch = -1 }] }],
        }, 1);
        var partition = summary.Results.Single().Partitions.Single();
        Assert.Equal((0, 7L, 1), (partition.ErrorCode, partition.StartOffset, partition.DeliveryCompleteCount));
    }

    [Fact]
    public async Task Older_leader_and_state_epochs_are_fenced()
    {
        using var kafka = new ShareTestBroker(new ManualTimeProvider(), _directory);
        Assert.Equal(0, await InitializeAsync(kafka, "g", stateEpoch: 1, startOffset: 0));

        // A new data-partition leader (epoch 3) reads: the state now belongs to epoch 3, and the old leader is fenced.
        Assert.Equal(0, (await ReadAsync(kafka, "g", 3)).ErrorCode);
        Assert.Equal((short)ErrorCode.FencedLeaderEpoch, await WriteAsync(kafka, "g", stateEpoch: 1, leaderEpoch: 2, startOffset: 1));
        Assert.Equal((short)ErrorCode.FencedLeaderEpoch, (await ReadAsync(kafka, "g", 2)).ErrorCode);
        Assert.Equal((short)ErrorCode.FencedStateEpoch, await WriteAsync(kafka, "g", stateEpoch: 0, leaderEpoch: 3, startOffset: 1));
        Assert.Equal((short)ErrorCode.FencedStateEpoch, await InitializeAsync(kafka, "g", stateEpoch: 0, startOffset: 9));

        // Nothing fenced changed the state.
        Assert.Equal(0L, (await ReadAsync(kafka, "g", 3)).StartOffset);
    }

    [Fact]
    public async Task A_deleted_state_reads_as_uninitialized_also_after_a_restart()
    {
        using (var kafka = new ShareTestBroker(new ManualTimeProvider(), _directory))
        {
            Assert.Equal(0, await InitializeAsync(kafka, "g", 0, 4));
            var deleted = await kafka.SendAsync(new DeleteShareGroupStateHandler(kafka.Core), new DeleteShareGroupStateRequest
            {
                GroupId = "g",
                Topics = [new() { TopicId = kafka.TopicId, Partitions = [new() { Partition = 0 }] }],
            }, 0);
            Assert.Equal(0, deleted.Results.Single().Partitions.Single().ErrorCode);
            Assert.Equal(-1L, (await ReadAsync(kafka, "g", 0)).StartOffset);
        }

        using (var kafka = new ShareTestBroker(new ManualTimeProvider(), _directory))
        {
            Assert.Equal(-1L, (await ReadAsync(kafka, "g", 0)).StartOffset);
        }
    }

    [Fact]
    public async Task The_coordinator_holds_what_share_consumers_acknowledged_and_what_it_is_written_they_get()
    {
        var time = new ManualTimeProvider();
        using (var kafka = new ShareTestBroker(time, _directory))
        {
            kafka.Produce(0, "a", "b", "c", "d");
            await kafka.FetchAsync("m1", 0);
            Assert.Equal(0, ShareTestBroker.AckError(await kafka.AcknowledgeAsync("m1", 1, (0, 0, 1, AcknowledgeKind.Accept))));
            var state = await ReadAsync(kafka, ShareTestBroker.Group, 0);
            Assert.Equal(2L, state.StartOffset);
            Assert.Equal([(2L, 3L, (sbyte)0, (short)1)], state.StateBatches.Select(b => (b.FirstOffset, b.LastOffset, b.DeliveryState, b.DeliveryCount)));

            // Another broker's share partition (as a leader elsewhere would) acknowledges offset 2 at the coordinator.
            Assert.Equal(0, await WriteAsync(kafka, ShareTestBroker.Group, 0, 0, 3, (3, 3, 0, 1)));
        }

        using (var kafka = new ShareTestBroker(time, _directory))
        {
            var fetched = await kafka.FetchAsync("m2", 0);
            Assert.Equal([(3L, 3L, (short)2)], ShareTestBroker.Acquired(fetched));
            Assert.Equal(["d"], ShareTestBroker.Values(fetched));
        }
    }

    private static async Task<ReadShareGroupStateResponse.PartitionResult> ReadAsync(ShareTestBroker kafka, string group, int leaderEpoch)
    {
        var response = await kafka.SendAsync(new ReadShareGroupStateHandler(kafka.Core), new ReadShareGroupStateRequest
        {
            GroupId = group,
            Topics = [new() { TopicId = kafka.TopicId, Partitions = [new() { Partition = 0, LeaderEpoch = leaderEpoch }] }],
        }, 0);
        return response.Results.Single().Partitions.Single();
    }

    private static async Task<short> InitializeAsync(ShareTestBroker kafka, string group, int stateEpoch, long startOffset)
    {
        var response = await kafka.SendAsync(new InitializeShareGroupStateHandler(kafka.Core), new InitializeShareGroupStateRequest
        {
            GroupId = group,
            Topics = [new() { TopicId = kafka.TopicId, Partitions = [new() { Partition = 0, StateEpoch = stateEpoch, StartOffset = startOffset }] }],
        }, 0);
        return response.Results.Single().Partitions.Single().ErrorCode;
    }

    private static async Task<short> WriteAsync(ShareTestBroker kafka, string group, int stateEpoch, int leaderEpoch, long startOffset, params (long First, long Last, sbyte State, short Count)[] batches)
    {
        var response = await kafka.SendAsync(new WriteShareGroupStateHandler(kafka.Core), new WriteShareGroupStateRequest
        {
            GroupId = group,
            Topics =
            [
                new()
                {
                    TopicId = kafka.TopicId,
                    Partitions =
                    [
                        new()
                        {
                            Partition = 0,
                            StateEpoch = stateEpoch,
                            LeaderEpoch = leaderEpoch,
                            StartOffset = startOffset,
                            StateBatches = [.. batches.Select(b => new WriteShareGroupStateRequest.StateBatch { FirstOffset = b.First, LastOffset = b.Last, DeliveryState = b.State, DeliveryCount = b.Count })],
                        },
                    ],
                },
            ],
        }, 1);
        return response.Results.Single().Partitions.Single().ErrorCode;
    }
}
