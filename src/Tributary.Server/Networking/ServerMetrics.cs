using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Tributary.Protocol;

namespace Tributary.Server.Networking;

/// <summary>
/// The server's instruments, on the meter <c>Tributary.Server</c> (read them with a <see cref="MeterListener"/>,
/// OpenTelemetry or <c>dotnet-counters</c>).
/// </summary>
internal static class ServerMetrics
{
    public static readonly Meter Meter = new("Tributary.Server");

    /// <summary>
    /// Seconds from the connection's handler taking a request's frame to its response being in the connection's
    /// output, tagged with the API's name (<c>kafka.api</c>): the broker's own time for the request, Kafka's local time
    /// plus response queue time. Also tagged with the listener's port (<c>network.local.port</c>). A parked fetch counts its wait; a produce held for its flush counts the flush. Time
    /// the frame spent waiting behind earlier requests of its connection, and sending the response, are not in it.
    /// </summary>
    public static readonly Histogram<double> RequestDuration = Meter.CreateHistogram<double>(
        "tributary.request.duration", "s", "Time from a request's frame being taken to its response being written to the connection");

    /// <summary>
    /// Milliseconds a client was throttled for going over a quota (the response's throttle_time_ms, for which its
    /// connection reads nothing), per throttled request, tagged with the API's name (<c>kafka.api</c>) and the listener's
    /// port (<c>network.local.port</c>): Kafka's throttle-time metric.
    /// </summary>
    public static readonly Histogram<int> ThrottleTime = Meter.CreateHistogram<int>(
        "tributary.request.throttle.time", "ms", "Time a client's connection is throttled for going over a client quota");

    // Open connections per listener name, kept as absolute counts: a listener attached after connections opened
    // (an admin listener's exporter, dotnet-counters) reads the true number, never only the deltas it saw.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, StrongBox<long>> OpenConnections = new(StringComparer.Ordinal);

    /// <summary>
    /// Open client connections per listener (<c>listener</c>), Kafka's connection-count of socket-server-metrics.
    /// Counted from the connection handler taking the connection (after TLS) to its end, over every broker of the process.
    /// </summary>
    public static readonly ObservableUpDownCounter<long> ConnectionCount = Meter.CreateObservableUpDownCounter(
        "kafka.server.socket_server_metrics.connection_count",
        () => OpenConnections.Select(c => new Measurement<long>(Volatile.Read(ref c.Value.Value), new KeyValuePair<string, object?>("listener", c.Key))),
        null, "Open client connections per listener");

    private static readonly string[] ApiNames = BuildApiNames();

    public static void ConnectionOpened(string listener) => Interlocked.Increment(ref OpenConnections.GetOrAdd(listener, _ => new StrongBox<long>()).Value);

    public static void ConnectionClosed(string listener) => Interlocked.Decrement(ref OpenConnections.GetOrAdd(listener, _ => new StrongBox<long>()).Value);

    /// <summary>Records that a request of <paramref name="apiKey"/> earned a throttle of <paramref name="throttleMs"/>.</summary>
    public static void RecordThrottle(short apiKey, int throttleMs, object? port)
    {
        if (ThrottleTime.Enabled)
        {
            ThrottleTime.Record(throttleMs, new KeyValuePair<string, object?>("kafka.api", apiKey >= 0 && apiKey < ApiNames.Length ? ApiNames[apiKey] : "Unknown"),
                new KeyValuePair<string, object?>("network.local.port", port));
        }
    }

    /// <summary>Records a request's time since <paramref name="startedTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public static void RecordRequest(short apiKey, long startedTimestamp, object? port)
    {
        if (RequestDuration.Enabled)
        {
            var name = apiKey >= 0 && apiKey < ApiNames.Length ? ApiNames[apiKey] : "Unknown";
            RequestDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds,
                new KeyValuePair<string, object?>("kafka.api", name), new KeyValuePair<string, object?>("network.local.port", port));
        }
    }

    private static string[] BuildApiNames()
    {
        var keys = Enum.GetValues<ApiKey>();
        var names = new string[keys.Max(k => (int)k) + 1];
        Array.Fill(names, "Unknown");
        foreach (var key in keys)
        {
            names[(int)key] = key.ToString();
        }

        return names;
    }
}
