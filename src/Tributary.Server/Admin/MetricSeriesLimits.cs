using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;
using Tributary.Server.Networking;

namespace Tributary.Server.Admin;

/// <summary>
/// Series limits (OpenTelemetry's cardinality limit) of the instruments whose label sets are small by construction.
/// OpenTelemetry allocates every instrument's series storage when the instrument is published, sized by its limit
/// (2,000 by default, about 200 KB each): the runtime's twenty-odd instruments alone took about 4 MB and a quarter of
/// the broker's start-up CPU for series that never exist. Instruments labelled by topic, partition, group or API keep
/// the default; a series past a limit is reported in OpenTelemetry's overflow series, as before.
/// </summary>
internal static class MetricSeriesLimits
{
    /// <summary>
    /// Series per instrument of the runtime's <c>System.Runtime</c> meter: its labels are a GC generation, a CPU
    /// mode or an exception type.
    /// </summary>
    public const int RuntimeSeriesMax = 100;

    /// <summary>Series of the per-listener connection count: one per listener name the process' brokers use.</summary>
    public const int ListenerSeriesMax = 100;

    public static MetricStreamConfiguration? For(Instrument instrument) =>
        instrument.Meter.Name == "System.Runtime" ? new MetricStreamConfiguration { CardinalityLimit = RuntimeSeriesMax }
        : instrument == ServerMetrics.ConnectionCount ? new MetricStreamConfiguration { CardinalityLimit = ListenerSeriesMax }
        : null;
}
