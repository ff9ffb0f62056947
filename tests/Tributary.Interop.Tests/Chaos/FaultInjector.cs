using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>Carries out one <see cref="Fault"/> on a <see cref="BrokerProcessCluster"/> and undoes it.</summary>
public sealed class FaultInjector(BrokerProcessCluster cluster, string topic, int partitions)
{
    private int _topicsTried;

    /// <summary>Injects the fault, waits its duration, undoes it; returns what it hit, for the test's output.</summary>
    public async Task<string> InjectAsync(Fault fault)
    {
        switch (fault.Kind)
        {
            case FaultKind.KillLeader:
                {
                    var leader = LeaderOf(fault.Target % partitions);
                    await cluster.KillAsync(leader);
                    await Task.Delay(fault.Duration);
                    await cluster.RestartAsync(leader);
                    return $"killed broker {leader}";
                }

            case FaultKind.PauseLeader:
                {
                    var leader = LeaderOf(fault.Target % partitions);
                    cluster.Pause(leader);
                    await Task.Delay(fault.Duration);
                    cluster.Resume(leader);
                    return $"paused broker {leader}";
                }

            case FaultKind.KillEtcdMember:
                {
                    var member = fault.Target % cluster.Etcd.MemberCount;
                    await cluster.Etcd.KillMemberAsync(member);
                    await Task.Delay(fault.Duration);
                    await cluster.Etcd.RestartMemberAsync(member);
                    return $"killed etcd member {member}";
                }

            case FaultKind.EtcdQuorumLoss:
                return await LoseQuorumAsync(fault);

            case FaultKind.WipeBroker:
                {
                    var id = BrokerProcessCluster.BrokerIds[fault.Target % BrokerProcessCluster.BrokerIds.Length];
                    await cluster.WipeAsync(id);
                    return $"wiped broker {id}";
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(fault));
        }
    }

    // Two members paused: brokers keep answering Metadata from their caches, a CreateTopics cannot commit in etcd
    // and must not succeed; once the members resume, the same CreateTopics goes through.
    private async Task<string> LoseQuorumAsync(Fault fault)
    {
        var first = fault.Target % cluster.Etcd.MemberCount;
        var second = (first + 1) % cluster.Etcd.MemberCount;
        var started = DateTime.UtcNow;
        cluster.Etcd.PauseMember(first);
        cluster.Etcd.PauseMember(second);
        string during;
        var name = $"{topic}-during-{++_topicsTried}";
        try
        {
            Assert.NotNull(cluster.Describe(topic));
            var timeout = TimeSpan.FromMilliseconds(Math.Max(1000, fault.Duration.TotalMilliseconds - 1000));
            during = await CreateTopicAsync(name, timeout);
            Assert.True(during != "created", $"CreateTopics succeeded while etcd had no quorum");
            var left = fault.Duration - (DateTime.UtcNow - started);
            if (left > TimeSpan.Zero)
            {
                await Task.Delay(left);
            }
        }
        finally
        {
            cluster.Etcd.ResumeMember(first);
            cluster.Etcd.ResumeMember(second);
        }

        await cluster.Etcd.WaitHealthyAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        string after;
        while ((after = await CreateTopicAsync(name, TimeSpan.FromSeconds(10))) is not ("created" or "TopicAlreadyExists"))
        {
            Assert.True(DateTime.UtcNow < deadline, $"CreateTopics still answers {after} 60 s after etcd's quorum came back");
            await Task.Delay(500);
        }

        return $"paused etcd members {first} and {second}; CreateTopics answered {during} during, {after} after";
    }

    private async Task<string> CreateTopicAsync(string name, TimeSpan timeout)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        try
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = name, NumPartitions = 1, ReplicationFactor = 3 }],
                new CreateTopicsOptions { RequestTimeout = timeout, OperationTimeout = timeout });
            return "created";
        }
        catch (CreateTopicsException e)
        {
            return e.Results[0].Error.Code.ToString();
        }
        catch (KafkaException e)
        {
            return e.Error.Code.ToString();
        }
    }

    private int LeaderOf(int partition) =>
        cluster.Describe(topic)?.Partitions.Single(p => p.PartitionId == partition).Leader is > 0 and var leader
            ? leader
            : throw new InvalidOperationException($"partition {partition} of {topic} has no leader");
}
