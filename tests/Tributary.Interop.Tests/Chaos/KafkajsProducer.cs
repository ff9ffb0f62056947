using System.Globalization;
using System.Text.Json;
using Tributary.Tests.Shared.Chaos;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// A kafkajs idempotent acks=all producer in the fault workload: one node process (tests/interop-js/chaos-producer.mjs)
/// that lives through all the faults, sending one record at a time to its own partitions and printing a JSON line
/// before each send and one when it is acknowledged (with its offset) or fails (unknown: it may have been written).
/// Each line is recorded in the history as it is read, so an operation's recorded invocation is a little later than
/// the real one and its completion a little later too; the order of one producer's operations is kept.
/// </summary>
public static class KafkajsProducer
{
    private static readonly TimeSpan SendInterval = TimeSpan.FromMilliseconds(10);
    private const int ErrorReasonCharsMax = 80;

    /// <summary>Runs until <paramref name="stop"/>, then stops the process (SIGTERM: the send in flight ends first).</summary>
    public static Task RunAsync(string bootstrap, string topic, string name, int[] partitions, int sendsMax, History history,
        Action<string> countError, string logFile, CancellationToken stop)
    {
        var pending = new Dictionary<string, long>(StringComparer.Ordinal);
        string[] arguments =
        [
            bootstrap, topic, name, string.Join(',', partitions.Select(p => p.ToString(CultureInfo.InvariantCulture))),
            sendsMax.ToString(CultureInfo.InvariantCulture), ((int)SendInterval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
        ];
        return NodeChaosClient.RunAsync("chaos-producer.mjs", arguments, logFile, line => Record(line, name, history, countError, pending), countError, stop);
    }

    private static void Record(string line, string name, History history, Action<string> countError, Dictionary<string, long> pending)
    {
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        if (root.TryGetProperty("invoke", out var invoked))
        {
            var value = invoked.GetString()!;
            pending[value] = history.Invoke(name, OperationKind.Produce, value, root.GetProperty("partition").GetInt32());
        }
        else if (root.TryGetProperty("ok", out var acknowledged) && pending.Remove(acknowledged.GetString()!, out var id))
        {
            var offset = long.Parse(root.GetProperty("offset").GetString()!, CultureInfo.InvariantCulture);
            history.Ok(id, root.GetProperty("partition").GetInt32(), offset);
        }
        else if (root.TryGetProperty("unknown", out var failed) && pending.Remove(failed.GetString()!, out var failedId))
        {
            var error = root.GetProperty("error").GetString() ?? "";
            countError("kafkajs " + (error.Length <= ErrorReasonCharsMax ? error : error[..ErrorReasonCharsMax]));
            history.Unknown(failedId, error);
        }
    }
}
