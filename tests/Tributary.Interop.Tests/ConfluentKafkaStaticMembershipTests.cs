using System.Collections.Concurrent;
using Confluent.Kafka;
using Tributary.Broker.Dispatch;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// Confluent.Kafka (librdkafka) static members (group.instance.id, KIP-345) against the embedded broker: the group's
/// leader is closed and restarted with the same instance id within its session, as in librdkafka's "static membership
/// does not rebalance after disconnect" test. The restarted process gets its partitions back and the other member
/// keeps its own without a revocation: only the restarted process sends JoinGroup.
/// </summary>
public sealed class ConfluentKafkaStaticMembershipTests(ITestOutputHelper output)
{
    private const string Topic = "static-members";
    private const string Group = "static-members-group";

    [Fact]
    public async Task ARestartedStaticLeaderTakesItsPartitionsBackWithoutARebalance()
    {
        Librdkafka.EnsureLoaded();
        var options = new TributaryBrokerOptions { Topics = { [Topic] = 4 } };
        await using var broker = await TributaryBroker.StartAsync(options);
        var joins = new ConcurrentQueue<(string? ClientId, short Version)>();
        broker.Intercept(ApiKey.JoinGroup, context =>
        {
            joins.Enqueue((context.ClientId, context.ApiVersion));
            return InterceptDecision.Continue;
        });

        var leaderEvents = new RebalanceEvents();
        var followerEvents = new RebalanceEvents();
        var leader = NewConsumer(broker.BootstrapServers, "pod-a", leaderEvents);
        using var follower = NewConsumer(broker.BootstrapServers, "pod-b", followerEvents);
        int[] leaderPartitions, followerPartitions;
        try
        {
            // The first member alone forms the group and leads it; the second joins the next generation.
            leader.Subscribe(Topic);
            PollUntil(() => leader.Assignment.Count == 4, leader);
            follower.Subscribe(Topic);
            PollUntil(() => leader.Assignment.Count == 2 && follower.Assignment.Count == 2, leader, follower);
            leaderPartitions = Partitions(leader);
            followerPartitions = Partitions(follower);
            leader.Close();
        }
        finally
        {
            leader.Dispose();
        }

        var joinsBefore = joins.Count;
        var revokedBefore = followerEvents.Revoked;
        var assignedBefore = followerEvents.Assigned;
        using var restarted = NewConsumer(broker.BootstrapServers, "pod-a", new RebalanceEvents());
        restarted.Subscribe(Topic);
        PollUntil(() => restarted.Assignment.Count > 0, restarted, follower);

        // Several heartbeat intervals: a rebalance would reach the follower's heartbeat within them.
        var quietUntil = DateTime.UtcNow.AddSeconds(3);
        while (DateTime.UtcNow < quietUntil)
        {
            restarted.Consume(TimeSpan.FromMilliseconds(50));
            follower.Consume(TimeSpan.FromMilliseconds(50));
        }

        var rejoins = joins.Skip(joinsBefore).ToList();
        output.WriteLine($"JoinGroup after the restart: {string.Join(", ", rejoins.Select(j => $"{j.ClientId} v{j.Version}"))}");
        Assert.Equal(new string?[] { "static-pod-a" }, rejoins.Select(j => j.ClientId));
        Assert.Equal((revokedBefore, assignedBefore), (followerEvents.Revoked, followerEvents.Assigned));
        Assert.Equal(leaderPartitions, Partitions(restarted));
        Assert.Equal(followerPartitions, Partitions(follower));
        restarted.Close();
        follower.Close();
    }

    private static int[] Partitions(IConsumer<Ignore, Ignore> consumer) => [.. consumer.Assignment.Select(p => p.Partition.Value).Order()];

    private static void PollUntil(Func<bool> done, params IConsumer<Ignore, Ignore>[] consumers)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, "the group did not settle within 60 s");
            foreach (var consumer in consumers)
            {
                consumer.Consume(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    private static IConsumer<Ignore, Ignore> NewConsumer(string bootstrap, string instanceId, RebalanceEvents events) =>
        new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = Group,
            GroupInstanceId = instanceId,
            ClientId = "static-" + instanceId,
            SessionTimeoutMs = 30_000,
            HeartbeatIntervalMs = 300,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        })
        .SetPartitionsAssignedHandler((_, _) => { events.Assigned++; })
        .SetPartitionsRevokedHandler((_, _) => { events.Revoked++; })
        .Build();

    /// <summary>How often a consumer's assignment was handed out and taken back (eager range assignor).</summary>
    private sealed class RebalanceEvents
    {
        public int Assigned { get; set; }

        public int Revoked { get; set; }
    }
}
