using System.Globalization;

namespace Tributary.Interop.Tests.Chaos;

public enum FaultKind
{
    /// <summary>SIGKILL of a partition's leader, restarted on its data after the pause.</summary>
    KillLeader,

    /// <summary>SIGSTOP of a partition's leader for longer than its lease, then SIGCONT: a zombie of a stale epoch.</summary>
    PauseLeader,

    /// <summary>SIGKILL of one etcd member, restarted on its data after the pause.</summary>
    KillEtcdMember,

    /// <summary>Two of the three etcd members stopped (SIGSTOP) for the pause: no quorum, then they resume.</summary>
    EtcdQuorumLoss,

    /// <summary>SIGKILL of a broker, its data directory deleted, restarted empty: it must re-replicate.</summary>
    WipeBroker,
}

/// <summary>
/// One fault: its kind, which partition's leader or which member or broker it picks (an index the runner maps onto
/// what is live then), how long it lasts and how long the cluster runs healed before the next.
/// </summary>
public sealed record Fault(FaultKind Kind, int Target, TimeSpan Duration, TimeSpan Gap)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Kind}(target {Target}, {Duration.TotalSeconds:F1} s, then {Gap.TotalSeconds:F1} s)");
}

/// <summary>
/// A fault schedule drawn from a seed, so a failing run is replayed by its seed (CHAOS_SEED). The short schedule
/// has every kind once in a seeded order; the long one draws kinds until the faults fill the given time.
/// </summary>
public static class FaultSchedule
{
    public static IReadOnlyList<Fault> EveryKindOnce(int seed, TimeSpan leaseTtl)
    {
        var random = new Random(seed);
        var kinds = Enum.GetValues<FaultKind>();
        random.Shuffle(kinds);
        return [.. kinds.Select(k => Draw(random, k, leaseTtl))];
    }

    public static IReadOnlyList<Fault> ForDuration(int seed, TimeSpan leaseTtl, TimeSpan total)
    {
        var random = new Random(seed);
        var kinds = Enum.GetValues<FaultKind>();
        var faults = new List<Fault>();
        var planned = TimeSpan.Zero;
        while (planned < total)
        {
            var fault = Draw(random, kinds[random.Next(kinds.Length)], leaseTtl);
            faults.Add(fault);

            // Healing (restarts, catching up) takes roughly as long again as the fault itself.
            planned += (2 * fault.Duration) + fault.Gap;
        }

        return faults;
    }

    private static Fault Draw(Random random, FaultKind kind, TimeSpan leaseTtl)
    {
        var duration = kind switch
        {
            // Past the lease, so the broker is dead to the cluster and its leaderships move.
            FaultKind.PauseLeader => leaseTtl + TimeSpan.FromMilliseconds(1000 + random.Next(2000)),
            FaultKind.EtcdQuorumLoss => TimeSpan.FromMilliseconds(2000 + random.Next(3000)),
            _ => TimeSpan.FromMilliseconds(500 + random.Next(3000)),
        };
        return new Fault(kind, random.Next(1000), duration, TimeSpan.FromMilliseconds(500 + random.Next(1500)));
    }
}
