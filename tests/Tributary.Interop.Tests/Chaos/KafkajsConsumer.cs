using System.Globalization;
using System.Text.Json;
using Tributary.Tests.Shared.Chaos;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// A kafkajs read_committed member of the fault workload's consumer group, beside the Confluent.Kafka member: one node
/// process (tests/interop-js/chaos-consumer.mjs) that records every record it reads and commits, every few reads,
/// the next offset of each partition it has read since it last joined the group. A commit is invoked when its line
/// is read and is ok when kafkajs acknowledged it, unknown when kafkajs threw (it may have been applied).
/// </summary>
public static class KafkajsConsumer
{
    private const int CommitEveryReads = 50;

    public static Task RunAsync(string bootstrap, string topic, string group, string name, History history, Action<string> countError,
        string logFile, CancellationToken stop)
    {
        var commits = new Dictionary<int, List<long>>();
        string[] arguments = [bootstrap, topic, group, CommitEveryReads.ToString(CultureInfo.InvariantCulture)];
        return NodeChaosClient.RunAsync("chaos-consumer.mjs", arguments, logFile, line => Record(line, group, name, history, countError, commits), countError, stop);
    }

    private static void Record(string line, string group, string name, History history, Action<string> countError, Dictionary<int, List<long>> commits)
    {
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        if (root.TryGetProperty("read", out var value))
        {
            var offset = long.Parse(root.GetProperty("offset").GetString()!, CultureInfo.InvariantCulture);
            history.Read(name, root.GetProperty("partition").GetInt32(), offset, value.GetString()!);
        }
        else if (root.TryGetProperty("commit", out var commit))
        {
            commits[commit.GetInt32()] = [.. root.GetProperty("offsets").EnumerateArray().Select(o => history.Invoke(name, OperationKind.Commit, group,
                o.GetProperty("partition").GetInt32(), long.Parse(o.GetProperty("offset").GetString()!, CultureInfo.InvariantCulture)))];
        }
        else if (root.TryGetProperty("committed", out var committed) && commits.Remove(committed.GetInt32(), out var ids))
        {
            ids.ForEach(id => history.Ok(id));
        }
        else if (root.TryGetProperty("commitUnknown", out var unknown) && commits.Remove(unknown.GetInt32(), out var unknownIds))
        {
            var error = root.GetProperty("error").GetString() ?? "";
            countError("kafkajs commit " + error);
            unknownIds.ForEach(id => history.Unknown(id, error));
        }
    }
}
