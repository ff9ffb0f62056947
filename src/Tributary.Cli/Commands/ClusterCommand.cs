using System.CommandLine;
using System.Globalization;
using Tributary.Cli.Output;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Cli.Commands;

/// <summary>
/// <c>tributary cluster</c>: the brokers and controller (DescribeCluster) and, per partition, the leader, replicas
/// and in-sync replicas (Metadata), what <c>kafka-cluster.sh</c> and <c>kafka-topics.sh --describe</c> show together.
/// </summary>
internal static class ClusterCommand
{
    private const short DescribeClusterVersion = 1;

    public static Command Create()
    {
        var command = new Command("cluster", """
            Show the cluster: its id, controller and brokers, then every partition's leader, replicas and in-sync
            replicas.

            Examples:
              tributary cluster
              tributary cluster --output json
            """);
        CommonOptions.AddReadOptions(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = CliOutput.For(parse.GetValue(CommonOptions.Output));
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var cluster = await client.SendAsync<DescribeClusterRequest, DescribeClusterResponse>(ApiKey.DescribeCluster, DescribeClusterVersion, new DescribeClusterRequest(), cancellationToken).ConfigureAwait(false);
            AdminClient.Check(cluster.ErrorCode, cluster.ErrorMessage, "cluster");
            var metadata = await client.SendAsync<MetadataRequest, MetadataResponse>(ApiKey.Metadata, AdminClient.MetadataVersion, new MetadataRequest { Topics = null, AllowAutoTopicCreation = false }, cancellationToken).ConfigureAwait(false);
            var description = new ClusterDescription(
                cluster.ClusterId,
                cluster.ControllerId,
                [.. cluster.Brokers.OrderBy(b => b.BrokerId).Select(b => new BrokerDescription(b.BrokerId, b.Host, b.Port, b.Rack))],
                [.. metadata.Topics.Where(t => t.ErrorCode == 0 && t.Name is not null).OrderBy(t => t.Name, StringComparer.Ordinal)
                    .SelectMany(t => t.Partitions.OrderBy(p => p.PartitionIndex).Select(p => new ClusterPartition(t.Name!, p.PartitionIndex, p.LeaderId, p.ReplicaNodes, p.IsrNodes)))]);
            if (output.IsJson)
            {
                CliOutput.Json(description, CliJsonContext.Default.ClusterDescription);
                return 0;
            }

            output.Line($"cluster {description.ClusterId}: controller {Number(description.ControllerId)}, {Number(description.Brokers.Count)} broker(s)");
            output.Table(["BROKER", "HOST", "PORT", "RACK"], description.Brokers.Select(b => (IReadOnlyList<string>)[Number(b.BrokerId), b.Host, Number(b.Port), b.Rack ?? "-"]));
            output.Line("");
            output.Table(["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR"], description.Partitions.Select(p => (IReadOnlyList<string>)[p.Topic, Number(p.Partition), Number(p.Leader), string.Join(',', p.Replicas), string.Join(',', p.Isr)]));
            return 0;
        });
        return command;
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    internal sealed record ClusterDescription(string ClusterId, int ControllerId, List<BrokerDescription> Brokers, List<ClusterPartition> Partitions);

    internal sealed record BrokerDescription(int BrokerId, string Host, int Port, string? Rack);

    internal sealed record ClusterPartition(string Topic, int Partition, int Leader, List<int> Replicas, List<int> Isr);
}
