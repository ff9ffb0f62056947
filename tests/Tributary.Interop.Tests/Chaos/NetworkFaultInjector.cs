using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Tributary.Tests.Shared.Chaos;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// Carries out one <see cref="NetworkFault"/> on a cluster whose processes run in <see cref="NetworkNamespaces"/>:
/// cuts a partition leader's links, waits until the rest of the cluster shows the effect Kafka would (asserting it
/// happens in time), probes the cut broker with one write, holds the cut, and heals it.
/// </summary>
public sealed class NetworkFaultInjector(BrokerProcessCluster cluster, NetworkNamespaces network, History history, string topic, int partitions)
{
    private static readonly TimeSpan EffectTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(8);
    private int _probes;

    /// <summary>Injects the fault and heals it; returns what it cut and saw, for the test's output.</summary>
    public async Task<string> InjectAsync(NetworkFault fault)
    {
        var partition = fault.Target % partitions;
        var leader = cluster.DescribeFrom(BrokerProcessCluster.BrokerIds[0], topic)?.Partitions.Single(p => p.PartitionId == partition).Leader
            ?? throw new InvalidOperationException($"no metadata for {topic}");
        var host = BrokerProcessCluster.BrokerHost(leader);
        var peers = BrokerProcessCluster.BrokerIds.Where(id => id != leader).ToList();
        string seen;
        try
        {
            switch (fault.Kind)
            {
                case NetworkFaultKind.CutFromPeers:
                    foreach (var peer in peers)
                    {
                        await network.CutAsync(host, BrokerProcessCluster.BrokerHost(peer));
                    }

                    (seen, var metadata) = await WaitForAsync(peers[0], leader, PeersLeftIsr, "its followers left its ISRs and it left theirs");
                    var stillLeads = metadata.Partitions.Single(p => p.PartitionId == partition).Leader == leader;
                    seen += "; " + (stillLeads ? await ProbeWithoutReplicasAsync(leader, partition) : "its leadership moved");
                    break;

                case NetworkFaultKind.CutFromEtcd:
                    await network.CutAsync(host, BrokerProcessCluster.EtcdHost);
                    (seen, _) = await WaitForAsync(peers[0], leader, LeadershipsMoved, "its leaderships moved and it left every ISR");
                    seen += "; " + await ProbeDeposedLeaderAsync(leader, partition);
                    break;

                case NetworkFaultKind.Isolate:
                    foreach (var other in peers.Select(BrokerProcessCluster.BrokerHost).Append(BrokerProcessCluster.EtcdHost).Append(NetworkNamespaces.Client))
                    {
                        await network.CutAsync(host, other);
                    }

                    (seen, _) = await WaitForAsync(peers[0], leader, LeadershipsMoved, "its leaderships moved and it left every ISR");
                    break;

                default:
                    throw new ArgumentOutOfRangeException(nameof(fault));
            }

            await Task.Delay(fault.Hold);
        }
        finally
        {
            await network.HealAsync();
        }

        return $"cut broker {leader} (leader of {topic}-{partition}): {seen}";
    }

    // Kafka: a leader whose followers stop fetching shrinks its ISR to itself (it still reaches the controller), and
    // the leaders it cannot fetch from drop it from theirs.
    private static bool PeersLeftIsr(TopicMetadata metadata, int cut) => metadata.Partitions.All(p =>
        p.Leader == cut ? p.InSyncReplicas.SequenceEqual([cut]) : p.Leader > 0 && !p.InSyncReplicas.Contains(cut));

    // A broker whose lease ended is dead to the cluster: the controller elects other leaders from the ISRs and drops it.
    private static bool LeadershipsMoved(TopicMetadata metadata, int cut) =>
        metadata.Partitions.All(p => p.Leader > 0 && p.Leader != cut && !p.InSyncReplicas.Contains(cut));

    // Polls the metadata as broker `observer` reports it until `effect` holds; fails the test when time runs out.
    private async Task<(string Seen, TopicMetadata Metadata)> WaitForAsync(int observer, int cut, Func<TopicMetadata, int, bool> effect, string what)
    {
        var started = DateTime.UtcNow;
        TopicMetadata? metadata = null;
        while (DateTime.UtcNow - started < EffectTimeout)
        {
            metadata = cluster.DescribeFrom(observer, topic);
            if (metadata is not null && effect(metadata, cut))
            {
                return (string.Create(CultureInfo.InvariantCulture, $"{what} after {(DateTime.UtcNow - started).TotalSeconds:F1} s"), metadata);
            }

            await Task.Delay(250);
        }

        var state = metadata?.Partitions.Select(p => $"{p.PartitionId}: leader {p.Leader}, isr [{string.Join(",", p.InSyncReplicas)}]");
        Assert.Fail($"broker {cut} cut off: not seen within {EffectTimeout.TotalSeconds} s that {what}; broker {observer} reports {(state is null ? "nothing" : string.Join("; ", state))}");
        throw new UnreachableException();
    }

    // With its followers out of its ISR, an acks=all write to the cut leader must fail with NOT_ENOUGH_REPLICAS
    // (min.insync.replicas 2). Recorded in the history: failed before the append, it must never be in the log.
    private async Task<string> ProbeWithoutReplicasAsync(int leader, int partition)
    {
        var value = NextProbeValue();
        var id = history.Invoke("probe", OperationKind.Produce, value, partition);
        var error = await ProbeAsync(leader, partition, value);
        if (error == ErrorCode.NotEnoughReplicas)
        {
            history.Fail(id, error.ToString()!);
        }
        else
        {
            history.Unknown(id, error?.ToString() ?? "acknowledged");
        }

        Assert.True(error is ErrorCode.NotEnoughReplicas or ErrorCode.NotEnoughReplicasAfterAppend,
            $"an acks=all write to broker {leader}, alone in the ISR of {topic}-{partition}, answered {error?.ToString() ?? "ok"}, not NOT_ENOUGH_REPLICAS");
        return $"a write to it answered {error}";
    }

    // The cut broker still believes it leads at its old epoch, but its followers follow the new leader: it must not
    // acknowledge an acks=all write. Not recorded in the history: appended at a deposed epoch, the write is cut off
    // when the broker truncates to the new leader's log, so if it is in the final log the checker reports a phantom.
    private async Task<string> ProbeDeposedLeaderAsync(int leader, int partition)
    {
        var error = await ProbeAsync(leader, partition, NextProbeValue());
        Assert.True(error is not null, $"broker {leader}, deposed leader of {topic}-{partition} cut off from etcd, acknowledged an acks=all write");
        return $"a write to it was not acknowledged ({error})";
    }

    // One acks=all write through a producer that knows only `broker` and never retries; null error when acknowledged.
    private async Task<ErrorCode?> ProbeAsync(int broker, int partition, string value)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = cluster.Broker(broker).BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = false,
            MessageSendMaxRetries = 0,
            RequestTimeoutMs = (int)ProbeTimeout.TotalMilliseconds / 2,
            MessageTimeoutMs = (int)ProbeTimeout.TotalMilliseconds,
        }).Build();
        try
        {
            await producer.ProduceAsync(new TopicPartition(topic, partition), new Message<string, string> { Key = value, Value = value });
            return null;
        }
        catch (ProduceException<string, string> e)
        {
            return e.Error.Code;
        }
    }

    private string NextProbeValue() => "probe-" + (++_probes).ToString(CultureInfo.InvariantCulture);
}
