using System.Globalization;

namespace Tributary.Broker.Tests.Faults;

/// <summary>
/// Seeded fault injection (<see cref="FaultRun"/>): for each seed, random admin changes, produces, commits and
/// transactions while the disk fails with ENOSPC, EIO and EMFILE, then a restart (clean, killed, or power loss) and a
/// check against what was acknowledged. <c>TRIBUTARY_FAULT_SEED=N</c> replays one seed; <c>TRIBUTARY_FAULT_SEEDS=N</c>
/// runs seeds 0..N-1 (<c>tools/fault-soak.sh</c> runs thousands).
/// </summary>
public sealed class FaultInjectionTests
{
    private const int SeedsDefault = 300;

    [Fact]
    public async Task Every_acknowledged_change_survives_disk_faults_and_a_restart()
    {
        var injected = 0;
        foreach (var seed in Seeds())
        {
            using var run = new FaultRun(seed);
            try
            {
                await run.RunAsync();
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {seed} failed (replay: TRIBUTARY_FAULT_SEED={seed}): {e.Message}\nlast operations:\n{run.Trace}");
            }

            injected += run.FaultsInjected;
        }

        // The seeds did make the disk fail: a run without faults would prove nothing.
        Assert.True(Seeds().Count() < 20 || injected > Seeds().Count(), $"only {injected} faults were injected");
    }

    private static IEnumerable<int> Seeds()
    {
        if (Environment.GetEnvironmentVariable("TRIBUTARY_FAULT_SEED") is { Length: > 0 } one)
        {
            return [int.Parse(one, CultureInfo.InvariantCulture)];
        }

        var count = Environment.GetEnvironmentVariable("TRIBUTARY_FAULT_SEEDS") is { Length: > 0 } many
            ? int.Parse(many, CultureInfo.InvariantCulture)
            : SeedsDefault;
        return Enumerable.Range(0, count);
    }
}
