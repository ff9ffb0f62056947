using System.Globalization;

namespace Tributary.Interop.Tests.Chaos;

public enum NetworkFaultKind
{
    /// <summary>A partition's leader cut from the other brokers, not from etcd nor clients: its ISR shrinks to itself.</summary>
    CutFromPeers,

    /// <summary>A partition's leader cut from etcd, not from the other brokers nor clients: its lease ends, leaderships move.</summary>
    CutFromEtcd,

    /// <summary>A partition's leader cut from everything, clients too, for longer than its lease.</summary>
    Isolate,
}

/// <summary>
/// One network fault: its kind, which partition's leader it cuts (an index mapped onto the partitions), and how long
/// the cut lasts at least once its effect is seen (the ISR shrunk, or the leaderships moved).
/// </summary>
public sealed record NetworkFault(NetworkFaultKind Kind, int Target, TimeSpan Hold)
{
    // Roughly what a fault takes besides its hold: its effect (a lease or replica.lag.time.max.ms) and healing.
    private static readonly TimeSpan EffectAndHealing = TimeSpan.FromSeconds(10);

    /// <summary>Every kind once, in an order and with targets and hold times drawn from the seed.</summary>
    public static IReadOnlyList<NetworkFault> EveryKindOnce(int seed)
    {
        var random = new Random(seed);
        var kinds = Enum.GetValues<NetworkFaultKind>();
        random.Shuffle(kinds);
        return [.. kinds.Select(k => Draw(random, k))];
    }

    /// <summary>Kinds drawn from the seed until the faults fill about <paramref name="total"/> (scripts/chaos.sh).</summary>
    public static IReadOnlyList<NetworkFault> ForDuration(int seed, TimeSpan total)
    {
        var random = new Random(seed);
        var kinds = Enum.GetValues<NetworkFaultKind>();
        var faults = new List<NetworkFault>();
        for (var planned = TimeSpan.Zero; planned < total; planned += faults[^1].Hold + EffectAndHealing)
        {
            faults.Add(Draw(random, kinds[random.Next(kinds.Length)]));
        }

        return faults;
    }

    private static NetworkFault Draw(Random random, NetworkFaultKind kind) =>
        new(kind, random.Next(1000), TimeSpan.FromMilliseconds(1000 + random.Next(3000)));

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Kind}(target {Target}, held {Hold.TotalSeconds:F1} s)");
}
