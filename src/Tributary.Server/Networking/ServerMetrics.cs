using System.Diagnostics;
using System.Diagnostics.Metrics;
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

    private static readonly string[] ApiNames = BuildApiNames();

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
