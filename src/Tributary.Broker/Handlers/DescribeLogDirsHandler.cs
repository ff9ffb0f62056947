using Tributary.Broker.Dispatch;
using Tributary.Broker.Security.Authorization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// DescribeLogDirs v1-4 (KIP-113, KIP-827 for the sizes of the directory).
// Behaviour:
// - One log directory, the broker's (log.dirs; "memory" for in-memory storage), with the size in bytes of each
//   requested partition this broker holds; topics null means every partition. offset_lag is 0 and is_future_key
//   false: there are no replicas being moved between directories. Partitions that do not exist are left out, as
//   Kafka leaves them out.
// - Authorization: DESCRIBE on the cluster; without it the top-level error is CLUSTER_AUTHORIZATION_FAILED and no
//   directory is listed, as Kafka answers.
// Versions:
// - v3 adds the top-level error_code, v4 the directory's total and usable bytes (-1 for in-memory storage).
public sealed class DescribeLogDirsHandler(BrokerCore broker) : ApiHandler<DescribeLogDirsRequest, DescribeLogDirsResponse>(ApiKey.DescribeLogDirs, 1, 4)
{
    private const string InMemoryLogDir = "memory";

    protected override ValueTask<HandlerResult<DescribeLogDirsResponse>> HandleAsync(RequestContext context, DescribeLogDirsRequest request, CancellationToken cancellationToken)
    {
        if (!broker.Authorizer.AuthorizeCluster(context, AclOperation.Describe))
        {
            return ValueTask.FromResult<HandlerResult<DescribeLogDirsResponse>>(new DescribeLogDirsResponse { ErrorCode = (short)ErrorCode.ClusterAuthorizationFailed });
        }

        var wanted = request.Topics?.ToDictionary(t => t.Topic, t => t.Partitions.ToHashSet(), StringComparer.Ordinal);
        var topics = new SortedDictionary<string, List<DescribeLogDirsResponse.DescribeLogDirsPartition>>(StringComparer.Ordinal);
        foreach (var log in broker.Logs.Logs)
        {
            if (wanted is not null && (!wanted.TryGetValue(log.Topic, out var partitions) || !partitions.Contains(log.Partition)))
            {
                continue;
            }

            if (!topics.TryGetValue(log.Topic, out var list))
            {
                topics[log.Topic] = list = [];
            }

            list.Add(new DescribeLogDirsResponse.DescribeLogDirsPartition { PartitionIndex = log.Partition, PartitionSize = log.SizeBytes, OffsetLag = 0, IsFutureKey = false });
        }

        var inMemory = broker.Config.InMemoryStorage;
        var (total, usable) = inMemory ? (-1L, -1L) : DriveBytes(broker.Logs.DataDirectory);
        return ValueTask.FromResult<HandlerResult<DescribeLogDirsResponse>>(new DescribeLogDirsResponse
        {
            Results =
            [
                new DescribeLogDirsResponse.DescribeLogDirsResult
                {
                    LogDir = inMemory ? InMemoryLogDir : Path.GetFullPath(broker.Logs.DataDirectory),
                    Topics = [.. topics.Select(t => new DescribeLogDirsResponse.DescribeLogDirsTopic { Name = t.Key, Partitions = [.. t.Value.OrderBy(p => p.PartitionIndex)] })],
                    TotalBytes = total,
                    UsableBytes = usable,
                },
            ],
        });
    }

    private static (long Total, long Usable) DriveBytes(string directory)
    {
        try
        {
            var drive = new DriveInfo(Path.GetFullPath(directory));
            return (drive.TotalSize, drive.AvailableFreeSpace);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return (-1, -1);
        }
    }

    protected override DescribeLogDirsResponse? ErrorResponse(RequestContext context, DescribeLogDirsRequest request, ErrorCode error) =>
        new() { ErrorCode = (short)error };
}
