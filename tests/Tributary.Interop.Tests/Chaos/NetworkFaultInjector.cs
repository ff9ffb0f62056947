using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Tributary.Interop.Tests.Support;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;
using Tributary.Tests.Shared.Chaos;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// Carries out one <see cref="NetworkFault"/> on a cluster whose processes run in <see cref="NetworkNamespaces"/>:
/// cuts a partition leader's links, waits until the rest of the cluster shows the effect Kafka would (asserting it
/// happens in time), probes the cut broker with one write, holds the cut, and heals it.
/// </summary>
public sealed class NetworkFaultInjector(BrokerProcessCluster cluster, NetworkNamespaces network, History history, string topic, int partitions)
{
    private const int ProbeTimeoutMs = 4000;
    private static readonly TimeSpan EffectTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(3);
    private int _probes;

    /// <summary>Injects the fault and heals it; returns what it cut and saw, for the test's output.</summary>
    public async Task<string> InjectAsync(NetworkFault fault)
    {
        var partition = fault.Target % partitions;
        var leader = (await ViewAsync(cluster.Broker(BrokerProcessCluster.BrokerIds[0]), topic))?[partition].Leader
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

                    (seen, var view) = await WaitForAsync(peers[0], leader, PeersLeftIsr, "its followers left its ISRs and it left theirs");
                    seen += "; " + (view[partition].Leader == leader ? await ProbeWithoutReplicasAsync(leader, partition) : "its leadership moved");
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

    /// <summary>
    /// Leader and ISR of each partition as <paramref name="broker"/> itself answers Metadata (a raw request: librdkafka
    /// may ask any broker it has learnt of), or null if it did not answer.
    /// </summary>
    public static async Task<Dictionary<int, (int Leader, int[] Isr)>?> ViewAsync(StandaloneBroker broker, string topic)
    {
        try
        {
            using var timeout = new CancellationTokenSource(ConnectTimeout);
            await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers, timeout.Token);
            var metadata = await WireProbe.MetadataAsync(client, topic, allowAutoCreate: false);
            return metadata.ErrorCode != 0 ? null : metadata.Partitions.ToDictionary(p => p.PartitionIndex, p => (p.LeaderId, p.IsrNodes.ToArray()));
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ProtocolException)
        {
            return null;
        }
    }

    // Kafka: a leader whose followers stop fetching shrinks its ISR to itself (it still reaches the controller), and
    // the leaders it cannot fetch from drop it from theirs.
    private static bool PeersLeftIsr(Dictionary<int, (int Leader, int[] Isr)> view, int cut) => view.Values.All(p =>
        p.Leader == cut ? p.Isr.SequenceEqual([cut]) : p.Leader > 0 && !p.Isr.Contains(cut));

    // A broker whose lease ended is dead to the cluster: the controller elects other leaders from the ISRs and drops it.
    private static bool LeadershipsMoved(Dictionary<int, (int Leader, int[] Isr)> view, int cut) =>
        view.Values.All(p => p.Leader > 0 && p.Leader != cut && !p.Isr.Contains(cut));

    // Polls the metadata as broker `observer` answers it until `effect` holds; fails the test when time runs out.
    private async Task<(string Seen, Dictionary<int, (int Leader, int[] Isr)> View)> WaitForAsync(
        int observer, int cut, Func<Dictionary<int, (int Leader, int[] Isr)>, int, bool> effect, string what)
    {
        var started = DateTime.UtcNow;
        Dictionary<int, (int Leader, int[] Isr)>? view = null;
        while (DateTime.UtcNow - started < EffectTimeout)
        {
            view = await ViewAsync(cluster.Broker(observer), topic);
            if (view is not null && effect(view, cut))
            {
                return (string.Create(CultureInfo.InvariantCulture, $"{what} after {(DateTime.UtcNow - started).TotalSeconds:F1} s"), view);
            }

            await Task.Delay(250);
        }

        Assert.Fail($"broker {cut} cut off: not seen within {EffectTimeout.TotalSeconds} s that {what}; broker {observer} reports {Describe(view)}");
        throw new UnreachableException();
    }

    private static string Describe(Dictionary<int, (int Leader, int[] Isr)>? view) => view is null
        ? "nothing"
        : string.Join("; ", view.OrderBy(p => p.Key).Select(p => $"{p.Key}: leader {p.Value.Leader}, isr [{string.Join(",", p.Value.Isr)}]"));

    // With its followers out of its ISR, an acks=all write to the cut leader must fail with NOT_ENOUGH_REPLICAS
    // (min.insync.replicas 2). Recorded in the history: failed before the append, it must never be in the log.
    private async Task<string> ProbeWithoutReplicasAsync(int leader, int partition)
    {
        var value = NextProbeValue();
        var id = history.Invoke("probe", OperationKind.Produce, value, partition);
        var error = await ProduceToAsync(leader, partition, value);
        if (error == ErrorCode.NotEnoughReplicas)
        {
            history.Fail(id, error.ToString());
        }
        else
        {
            history.Unknown(id, error.ToString());
        }

        Assert.True(error is ErrorCode.NotEnoughReplicas or ErrorCode.NotEnoughReplicasAfterAppend,
            $"an acks=all write to broker {leader}, alone in the ISR of {topic}-{partition}, answered {error}, not NOT_ENOUGH_REPLICAS");
        return $"a write to it answered {error}";
    }

    // Cut from etcd, the broker still believes it leads at its old epoch, but its followers follow the new leader:
    // it must not acknowledge an acks=all write. Not recorded in the history: appended at a deposed epoch, the write
    // is cut off when the broker truncates to the new leader's log, so if it is in the final log it is a phantom.
    private async Task<string> ProbeDeposedLeaderAsync(int leader, int partition)
    {
        var believed = (await ViewAsync(cluster.Broker(leader), topic))?[partition].Leader;
        var error = await ProduceToAsync(leader, partition, NextProbeValue());
        if (error == ErrorCode.None)
        {
            Assert.Fail($"broker {leader}, deposed leader of {topic}-{partition} cut off from etcd (it reports leader {believed}), acknowledged an acks=all write\n{await ClusterDiagnostics.DescribeAsync(cluster, topic, history)}");
        }

        return $"it reports leader {believed?.ToString(CultureInfo.InvariantCulture) ?? "unknown"}; a write to it answered {error}";
    }

    // One acks=all write of one record, sent to `broker` itself (a raw Produce v9); its error code.
    private async Task<ErrorCode> ProduceToAsync(int broker, int partition, string value)
    {
        using var timeout = new CancellationTokenSource(ConnectTimeout);
        await using var client = await KafkaWireClient.ConnectAsync(cluster.Broker(broker).BootstrapServers, timeout.Token);
        var request = new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = ProbeTimeoutMs,
            TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = WireProbe.Batch(value) }] }],
        };
        var response = await WireProbe.SendAsync<ProduceRequest, ProduceResponse>(client, ApiKey.Produce, 9, request);
        return (ErrorCode)response.Responses.Single().PartitionResponses.Single().ErrorCode;
    }

    private string NextProbeValue() => "probe-" + (++_probes).ToString(CultureInfo.InvariantCulture);
}
