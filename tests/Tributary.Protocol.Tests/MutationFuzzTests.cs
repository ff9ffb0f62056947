using System.Diagnostics;

namespace Tributary.Protocol.Tests;

/// <summary>
/// Hostile bytes: valid encodings of every message are mutated (bit flips, truncation, inserted bytes, lengths
/// set to extremes) and decoded again. The only acceptable failure is <see cref="ProtocolException"/>: never
/// OutOfMemory, IndexOutOfRange or a hang.
/// </summary>
public sealed class MutationFuzzTests
{
    private const int MutationsMin = 100_000;
    private static readonly TimeSpan TimeBudget = TimeSpan.FromSeconds(60);

    [Fact]
    public void MutatedFramesFailOnlyWithProtocolException()
    {
        var random = new Random(20261122);
        var corpus = BuildCorpus(random);
        var stopwatch = Stopwatch.StartNew();
        var mutations = 0;
        var rejected = 0;
        while (mutations < MutationsMin && stopwatch.Elapsed < TimeBudget)
        {
            var (c, version, original) = corpus[random.Next(corpus.Count)];
            var mutated = Mutate(random, original);
            mutations++;
            try
            {
                c.Read(mutated, version);
            }
            catch (ProtocolException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"{c.Name} v{version}: {e.GetType().Name} for mutated bytes {Convert.ToHexString(mutated)}: {e.Message}");
            }
        }

        Assert.True(mutations >= MutationsMin, $"only {mutations} mutations ran within {TimeBudget}");
        Assert.True(rejected > mutations / 10, $"only {rejected} of {mutations} mutations were rejected: the mutator is too gentle");
    }

    [Fact]
    public void ArrayCountInTheBillionsFailsBeforeAllocating()
    {
        // MetadataRequest v4: topics array count 0x7FFFFFFF followed by nothing.
        byte[] bytes = [0x7F, 0xFF, 0xFF, 0xFF];
        var before = GC.GetAllocatedBytesForCurrentThread();

        var e = Assert.Throws<ProtocolException>(() => RandomMessages.ReadAll<Messages.MetadataRequest>(bytes, 4));

        Assert.Contains("exceeds", e.Reason, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);
    }

    private static List<(MessageCase Case, short Version, byte[] Bytes)> BuildCorpus(Random random)
    {
        var corpus = new List<(MessageCase, short, byte[])>();
        foreach (var c in RandomMessages.AllCases)
        {
            for (var v = c.LowestVersion; v <= c.HighestVersion; v++)
            {
                corpus.Add((c, v, RandomMessages.Encode(c.Make(random, v), v)));
            }
        }

        return corpus;
    }

    private static byte[] Mutate(Random r, byte[] original)
    {
        var bytes = original.ToList();
        var edits = 1 + r.Next(3);
        for (var i = 0; i < edits; i++)
        {
            var at = bytes.Count == 0 ? 0 : r.Next(bytes.Count);
            switch (r.Next(6))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << r.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 2:
                    bytes.Insert(at, (byte)r.Next(256));
                    break;
                case 3 when bytes.Count > 0:
                    bytes[at] = r.Next(2) == 0 ? (byte)0xFF : (byte)0x7F;
                    break;
                case 4 when bytes.Count > 3:
                    // A 32-bit length or count set to an extreme.
                    var value = r.Next(3) switch { 0 => int.MaxValue, 1 => -2, _ => r.Next() };
                    at = Math.Min(at, bytes.Count - 4);
                    bytes[at] = (byte)(value >> 24);
                    bytes[at + 1] = (byte)(value >> 16);
                    bytes[at + 2] = (byte)(value >> 8);
                    bytes[at + 3] = (byte)value;
                    break;
                default:
                    // An overlong varint: continuation bits with no end.
                    bytes.InsertRange(at, Enumerable.Repeat((byte)0xFF, 1 + r.Next(8)));
                    break;
            }
        }

        return [.. bytes];
    }
}
