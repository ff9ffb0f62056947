using System.Globalization;
using System.Text.RegularExpressions;
using Tributary.Interop.Tests.Support;
using Tributary.Tests.Shared.Chaos;

namespace Tributary.Interop.Tests.Chaos;

/// <summary>
/// A kcat (librdkafka) idempotent acks=all producer in the fault workload, as small batches: one <c>kcat -P</c>
/// process per batch sends <see cref="BatchSize"/> unique values from a file to one of its partitions, and its
/// delivery reports decide each value's outcome. kcat reports every delivery on standard error at verbosity 3
/// ("Message delivered to partition P (offset O) on broker B"), every failure at 1 ("Delivery failed for message:
/// ..."), neither naming the message. So a batch is acknowledged only whole: kcat exited 0 having reported as many
/// deliveries as it was given values and no failure; the values then take the reported offsets in ascending order
/// in the order they were sent (one idempotent producer, one partition: librdkafka keeps them in order, and the
/// checker verifies each value is found at exactly that offset). Any other batch is unknown throughout: what was
/// delivered cannot be told apart. Invocations are recorded before kcat starts and outcomes after it ends. kcat runs
/// with -E, so a broker going away mid-batch is a reason to retry, not to quit.
/// </summary>
public static partial class KcatProducer
{
    public const int BatchSize = 20;
    private static readonly TimeSpan BatchTimeout = TimeSpan.FromSeconds(60);

    // Between batches, to keep kcat's share of the writes near the other producers' rather than as fast as it starts.
    private static readonly TimeSpan BatchInterval = TimeSpan.FromMilliseconds(250);
    private const int MessageTimeoutMs = 30_000;
    private const int RequestTimeoutMs = 5000;

    /// <summary>Batches until <paramref name="stop"/> (the batch in flight ends first, within its time limit).</summary>
    /// <param name="logDirectory">Where the batch file and kcat's standard error (kcat-NAME.log) go.</param>
    public static async Task RunAsync(string bootstrap, string topic, string name, int[] partitions, int sendsMax, History history,
        Action<string> countError, string logDirectory, CancellationToken stop)
    {
        var batchFile = Path.Combine(logDirectory, $"kcat-{name}-batch.txt");
        await using var log = new StreamWriter(Path.Combine(logDirectory, $"kcat-{name}.log"));
        for (var (seq, batch) = (0, 0); seq + BatchSize <= sendsMax && !stop.IsCancellationRequested; seq += BatchSize, batch++)
        {
            var partition = partitions[batch % partitions.Length];
            var values = Enumerable.Range(seq, BatchSize).Select(n => string.Create(CultureInfo.InvariantCulture, $"{name}-{n}")).ToList();
            await File.WriteAllLinesAsync(batchFile, values, CancellationToken.None);
            var ids = values.Select(v => history.Invoke(name, OperationKind.Produce, v, partition)).ToList();
            ProcessResult result;
            try
            {
                result = await KcatRunner.RunAsync(Arguments(bootstrap, topic, name, partition, batchFile), timeout: BatchTimeout);
            }
            catch (TimeoutException e)
            {
                countError("kcat batch timed out");
                ids.ForEach(id => history.Unknown(id, "kcat timed out"));
                await log.WriteLineAsync(e.Message);
                continue;
            }

            await log.WriteLineAsync($"{DateTime.UtcNow:HH:mm:ss.fff} batch {batch} to partition {partition}: exit {result.ExitCode}\n{result.StandardError}");
            var offsets = Delivered().Matches(result.StandardError)
                .Where(m => int.Parse(m.Groups["partition"].Value, CultureInfo.InvariantCulture) == partition)
                .Select(m => long.Parse(m.Groups["offset"].Value, CultureInfo.InvariantCulture)).Order().ToList();
            var failures = DeliveryFailed().Matches(result.StandardError);
            if (result.ExitCode == 0 && offsets.Count == BatchSize && failures.Count == 0)
            {
                for (var i = 0; i < BatchSize; i++)
                {
                    history.Ok(ids[i], partition, offsets[i]);
                }
            }
            else
            {
                var reason = failures.Count > 0 ? failures[0].Groups["reason"].Value.Trim() : $"exit {result.ExitCode}, {offsets.Count} of {BatchSize} delivered";
                countError("kcat " + (failures.Count > 0 ? reason : "batch incomplete"));
                ids.ForEach(id => history.Unknown(id, reason));
            }

            try
            {
                await Task.Delay(BatchInterval, stop);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static string[] Arguments(string bootstrap, string topic, string name, int partition, string batchFile) =>
    [
        "-P", "-b", bootstrap, "-t", topic, "-p", partition.ToString(CultureInfo.InvariantCulture), "-l", "-v", "-v", "-E",
        "-X", "enable.idempotence=true", "-X", "acks=all", "-X", "client.id=" + name,
        "-X", "message.timeout.ms=" + MessageTimeoutMs.ToString(CultureInfo.InvariantCulture),
        "-X", "request.timeout.ms=" + RequestTimeoutMs.ToString(CultureInfo.InvariantCulture),
        batchFile,
    ];

    [GeneratedRegex(@"Message delivered to partition (?<partition>\d+) \(offset (?<offset>-?\d+)\)")]
    private static partial Regex Delivered();

    [GeneratedRegex(@"Delivery failed for message: (?<reason>[^\n]*)")]
    private static partial Regex DeliveryFailed();
}
