using System.Globalization;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Tributary.Broker.Cluster;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;
using Tributary.Tests.Shared.Chaos;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// What a failed fault test prints to be diagnosed from its output alone: what each broker answers to Metadata
/// (leader, leader epoch, replicas, ISR per partition), what etcd holds, where each producer stands, and the tails of
/// the brokers' logs (whole logs and the producers' librdkafka debug logs stay in the run's log directory).
/// </summary>
public static class ClusterDiagnostics
{
    private const string EtcdPrefix = "/tributary";
    private const short MetadataVersion = 12;
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    public static async Task<string> DescribeAsync(BrokerProcessCluster cluster, string topic, History history)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"--- diagnostics at {history.Now.TotalSeconds:F1} s of the history ({DateTime.UtcNow:HH:mm:ss.fff} UTC); logs in {cluster.LogDirectory}");
        text.AppendLine(Producers(history));
        foreach (var id in BrokerProcessCluster.BrokerIds)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"broker {id} says: {await MetadataAsync(cluster, id, topic)}");
        }

        text.AppendLine("etcd holds:").AppendLine(await EtcdAsync(cluster.Etcd.Endpoints));
        foreach (var id in BrokerProcessCluster.BrokerIds)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"broker {id} log (tail):").AppendLine(Tail(cluster.LogFile(id), 60));
        }

        return text.ToString();
    }

    // Per producer: acknowledged and pending sends, the last acknowledgement and the oldest send still pending.
    private static string Producers(History history)
    {
        var lines = history.Operations.Where(o => o.Kind == OperationKind.Produce).GroupBy(o => o.Process).OrderBy(g => g.Key).Select(g =>
        {
            var lastOk = g.Where(o => o.Outcome == Outcome.Ok).Select(o => o.Completed!.Value.TotalSeconds).DefaultIfEmpty(-1).Max();
            var pending = g.Where(o => o.Outcome == Outcome.Pending).ToList();
            var oldest = pending.Count > 0 ? $"{pending[0].Value} to partition {pending[0].Partition} since {pending[0].Invoked.TotalSeconds:F1} s" : "none";
            return string.Create(CultureInfo.InvariantCulture,
                $"{g.Key}: {g.Count(o => o.Outcome == Outcome.Ok)} acknowledged (last at {lastOk:F1} s), {g.Count(o => o.Outcome is Outcome.Fail or Outcome.Unknown)} failed or unknown, {pending.Count} pending (oldest {oldest})");
        });
        return "producers: " + string.Join("; ", lines);
    }

    private static async Task<string> MetadataAsync(BrokerProcessCluster cluster, int id, string topic)
    {
        if (cluster.IsPaused(id))
        {
            return "paused";
        }

        try
        {
            using var timeout = new CancellationTokenSource(CallTimeout);
            await using var client = await KafkaWireClient.ConnectAsync(cluster.Broker(id).BootstrapServers, timeout.Token);
            var response = await client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, MetadataVersion,
                new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = topic }], AllowAutoTopicCreation = false }, timeout.Token);
            var brokers = string.Join(",", response.Brokers.Select(b => b.NodeId).Order());
            var partitions = response.Topics.SelectMany(t => t.Partitions).OrderBy(p => p.PartitionIndex).Select(p => string.Create(CultureInfo.InvariantCulture,
                $"{p.PartitionIndex}: leader {p.LeaderId} epoch {p.LeaderEpoch} replicas [{string.Join(",", p.ReplicaNodes)}] isr [{string.Join(",", p.IsrNodes)}]{(p.ErrorCode != 0 ? " " + (ErrorCode)p.ErrorCode : "")}"));
            return $"brokers [{brokers}], controller {response.ControllerId}; {string.Join("; ", partitions)}";
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or System.Net.Sockets.SocketException or InvalidDataException)
        {
            return "no answer: " + e.Message;
        }
    }

    // Every key under the cluster's prefix with its lease and modification revision.
    private static async Task<string> EtcdAsync(string endpoints)
    {
        try
        {
            using var channel = EtcdEndpoints.Channel([.. endpoints.Split(',')]);
            var kv = new KV.KVClient(channel);
            var prefix = ByteString.CopyFromUtf8(EtcdPrefix + "/");
            var range = await kv.RangeAsync(new RangeRequest { Key = prefix, RangeEnd = ClusterKeys.RangeEnd(EtcdPrefix + "/") }, deadline: DateTime.UtcNow + CallTimeout);
            var keys = range.Kvs.Where(k => !k.Key.ToStringUtf8().StartsWith(EtcdPrefix + "/topics/", StringComparison.Ordinal))
                .Select(k => string.Create(CultureInfo.InvariantCulture, $"  {k.Key.ToStringUtf8()} (lease {k.Lease:x}, mod {k.ModRevision}) = {k.Value.ToStringUtf8()}"));
            return $"  revision {range.Header.Revision}\n{string.Join("\n", keys)}";
        }
        catch (RpcException e)
        {
            return "  no answer: " + e.Status.Detail;
        }
    }

    private static string Tail(string path, int lines)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException e)
        {
            return "(unreadable: " + e.Message + ")";
        }
    }
}
