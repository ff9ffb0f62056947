using System.Diagnostics.Metrics;
using Tributary.Server.Admin;
using Tributary.Server.Networking;

namespace Tributary.Server.Tests;

/// <summary>
/// Which instruments the admin listener's exporter gives a small series limit: the runtime's and the per-listener
/// connection count; instruments labelled by topic, partition or API keep OpenTelemetry's default.
/// </summary>
public sealed class MetricSeriesLimitsTests
{
    [Fact]
    public void TheRuntimesInstrumentsAndTheConnectionCountGetTheSmallLimit()
    {
        using var runtime = new Meter("System.Runtime");
        var collections = runtime.CreateCounter<long>("dotnet.gc.collections");

        Assert.Equal(MetricSeriesLimits.RuntimeSeriesMax, MetricSeriesLimits.For(collections)?.CardinalityLimit);
        Assert.Equal(MetricSeriesLimits.ListenerSeriesMax, MetricSeriesLimits.For(ServerMetrics.ConnectionCount)?.CardinalityLimit);
    }

    [Fact]
    public void InstrumentsLabelledByApiOrTopicKeepTheDefault()
    {
        using var broker = new Meter(BrokerMetrics.MeterName + ".Test");
        var perTopic = broker.CreateCounter<long>("kafka.server.brokertopicmetrics.bytes_in");

        Assert.Null(MetricSeriesLimits.For(ServerMetrics.RequestDuration));
        Assert.Null(MetricSeriesLimits.For(perTopic));
    }
}
