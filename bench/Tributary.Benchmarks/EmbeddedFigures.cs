using System.Diagnostics;
using System.Globalization;
using Tributary.Server;

namespace Tributary.Benchmarks;

/// <summary>
/// What an embedding test suite pays for the in-process broker: start-to-ready and stop times (median of many
/// cycles, after a cold first start), and the working set of the first broker and of each additional one.
/// Run with: dotnet run -c Release --project bench/Tributary.Benchmarks -- embedded
/// </summary>
public static class EmbeddedFigures
{
    private const int Cycles = 50;
    private const int AdditionalBrokers = 10;

    public static async Task RunAsync()
    {
        var baseline = WorkingSetBytes();
        var cold = Stopwatch.StartNew();
        var first = await TributaryBroker.StartAsync();
        var coldStartMs = cold.Elapsed.TotalMilliseconds;
        var oneBroker = WorkingSetBytes();
        var more = new List<TributaryBroker>();
        for (var i = 0; i < AdditionalBrokers; i++)
        {
            more.Add(await TributaryBroker.StartAsync());
        }

        var elevenBrokers = WorkingSetBytes();
        foreach (var b in more)
        {
            await b.DisposeAsync();
        }

        await first.DisposeAsync();

        var starts = new List<double>();
        var stops = new List<double>();
        var diskStarts = new List<double>();
        for (var i = 0; i < Cycles; i++)
        {
            var watch = Stopwatch.StartNew();
            var broker = await TributaryBroker.StartAsync();
            starts.Add(watch.Elapsed.TotalMilliseconds);
            watch.Restart();
            await broker.DisposeAsync();
            stops.Add(watch.Elapsed.TotalMilliseconds);

            watch.Restart();
            var onDisk = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false });
            diskStarts.Add(watch.Elapsed.TotalMilliseconds);
            await onDisk.DisposeAsync();
        }

        Console.WriteLine("| figure | value |");
        Console.WriteLine("|---|---:|");
        Console.WriteLine(Row("first start in a fresh process (JIT, assembly loading)", coldStartMs, "ms"));
        Console.WriteLine(Row($"start to ready, in memory, median of {Cycles}", Median(starts), "ms"));
        Console.WriteLine(Row($"start to ready, on disk (temp dir), median of {Cycles}", Median(diskStarts), "ms"));
        Console.WriteLine(Row($"stop and dispose, median of {Cycles}", Median(stops), "ms"));
        Console.WriteLine(Row("working set of the first broker (process growth)", (oneBroker - baseline) / 1048576.0, "MiB"));
        Console.WriteLine(Row($"working set of each additional broker (mean of {AdditionalBrokers})", (elevenBrokers - oneBroker) / (double)AdditionalBrokers / 1048576.0, "MiB"));
    }

    private static long WorkingSetBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private static string Row(string name, double value, string unit) =>
        string.Create(CultureInfo.InvariantCulture, $"| {name} | {value:F1} {unit} |");
}
