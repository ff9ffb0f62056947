using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tributary.Interop.Tests.Support;

/// <summary>
/// One <c>kcat -G GROUP TOPIC</c> balanced consumer (librdkafka's classic group protocol). Messages come back as
/// JSON lines on standard output, unbuffered (read as they arrive, not through a buffered file); kcat reports each rebalance on standard error
/// ("% Group G rebalanced (memberid M): assigned: t [0], t [1]"), which is where its member id and partitions come
/// from. Offsets are auto-committed every 200 ms; a new group starts from the earliest offset.
/// </summary>
public sealed partial class KcatGroupMember : IAsyncDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private readonly ChildProcess _process;

    private KcatGroupMember(ChildProcess process)
    {
        _process = process;
    }

    public int ProcessId => _process.Id;

    public static KcatGroupMember Start(string bootstrap, string group, string topic) =>
        new(ChildProcess.Start("kcat", ["-b", bootstrap, "-G", group, "-J", "-u", "-X", "auto.offset.reset=earliest", "-X", "auto.commit.interval.ms=200", topic]));

    /// <summary>The member id and partitions of kcat's latest rebalance; null before its first assignment or after a revoke.</summary>
    public (string MemberId, List<int> Partitions)? Assignment
    {
        get
        {
            var last = RebalanceLine().Matches(_process.StandardError).LastOrDefault();
            if (last is null || last.Groups["kind"].Value != "assigned")
            {
                return null;
            }

            var partitions = PartitionNumber().Matches(last.Groups["partitions"].Value).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).Order().ToList();
            return (last.Groups["member"].Value, partitions);
        }
    }

    /// <summary>The messages received so far (whole lines only).</summary>
    public List<KcatMessage> Messages() =>
        [.. _process.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<KcatMessage>(l) ?? throw new InvalidDataException("null line from kcat"))];

    /// <summary>Polls until <paramref name="condition"/> holds; fails the test with <paramref name="what"/> and kcat's stderr otherwise.</summary>
    public static async Task WaitUntilAsync(string what, TimeSpan timeout, Func<bool> condition, params KcatGroupMember[] members)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            var ended = members.FirstOrDefault(m => m._process.HasExited);
            if (ended is not null)
            {
                Assert.Fail($"kcat ended while waiting for {what}\n{ended._process.Describe()}");
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"no {what} within {timeout.TotalSeconds} s\n" + string.Join("\n", members.Select(m => m._process.Describe())));
            }

            await Task.Delay(PollInterval);
        }
    }

    /// <summary>SIGKILL by its own process id: no leave, no final commit.</summary>
    public Task KillAsync() => _process.KillAsync();

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    [GeneratedRegex(@"% Group \S+ rebalanced \(memberid (?<member>[^)]*)\): (?<kind>assigned|revoked)[^:]*:(?<partitions>[^\n]*)")]
    private static partial Regex RebalanceLine();

    [GeneratedRegex(@"\[(\d+)\]")]
    private static partial Regex PartitionNumber();
}
