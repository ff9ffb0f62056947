using Tributary.Broker.Cluster;

namespace Tributary.Broker.Tests.Cluster;

/// <summary>Replica placement of new partitions: spread leaders, distinct replicas, racks apart when set.</summary>
public sealed class ReplicaAssignerTests
{
    private static ClusterBroker Broker(int id, string? rack = null) => new(id, rack, []);

    [Fact]
    public void Leaders_go_round_robin_and_every_partition_has_distinct_replicas()
    {
        var assigned = ReplicaAssigner.Assign([Broker(1), Broker(2), Broker(3)], 0, 6, 3, startIndex: 0);

        Assert.Equal([1, 2, 3, 1, 2, 3], assigned.Select(r => r[0]));
        Assert.All(assigned, r => Assert.Equal([1, 2, 3], r.Order()));
    }

    [Fact]
    public void Followers_shift_each_round_so_one_broker_does_not_follow_one_leader_only()
    {
        var assigned = ReplicaAssigner.Assign([Broker(1), Broker(2), Broker(3), Broker(4)], 0, 8, 2, startIndex: 0);

        // Partition 0 and 4 share the leader 1; the second round puts its follower one further.
        Assert.Equal([1, 2], assigned[0]);
        Assert.Equal([1, 3], assigned[4]);
    }

    [Fact]
    public void With_racks_each_replica_of_a_partition_is_in_another_rack()
    {
        ClusterBroker[] brokers = [Broker(1, "a"), Broker(2, "a"), Broker(3, "b"), Broker(4, "b"), Broker(5, "c"), Broker(6, "c")];
        var racks = brokers.ToDictionary(b => b.NodeId, b => b.Rack);

        for (var start = 0; start < brokers.Length; start++)
        {
            var assigned = ReplicaAssigner.Assign(brokers, 0, 12, 3, start);
            Assert.All(assigned, r => Assert.Equal(3, r.Select(id => racks[id]).Distinct().Count()));
        }
    }

    [Fact]
    public void Partitions_added_later_continue_the_round_robin()
    {
        ClusterBroker[] brokers = [Broker(1), Broker(2), Broker(3)];

        var all = ReplicaAssigner.Assign(brokers, 0, 5, 2, startIndex: 1);
        var added = ReplicaAssigner.Assign(brokers, 3, 2, 2, startIndex: 1);

        Assert.Equal(all[3], added[0]);
        Assert.Equal(all[4], added[1]);
    }

    [Fact]
    public void A_factor_above_the_brokers_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ReplicaAssigner.Assign([Broker(1), Broker(2)], 0, 1, 3, 0));
    }
}
