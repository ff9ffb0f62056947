using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using Tributary.Broker.Config;
using Tributary.Server.Admin.Console;
using Tributary.Server.Networking;

namespace Tributary.Server.Admin;

/// <summary>
/// The broker's HTTP admin listener (tributary.admin.listeners): <c>/health/live</c>, <c>/health/ready</c> and the
/// routes of <see cref="MapRoutes"/>. A small ASP.NET Core application (Kestrel, minimal APIs, no reflection), started
/// beside the broker's log recovery so liveness answers during a long recovery, and stopped with the broker.
/// </summary>
public sealed partial class AdminListener : IAsyncDisposable
{
    /// <summary>Largest request body the admin listener reads: its routes take small forms and JSON, never uploads.</summary>
    public const long RequestBodyBytesMax = 1024 * 1024;

    /// <summary>Largest request line and headers together (Kestrel's default is 32 KiB).</summary>
    public const int RequestHeadersBytesMax = 16 * 1024;

    /// <summary>Concurrent HTTP connections the admin listener accepts: a scraper and a few browsers, not clients.</summary>
    public const long ConnectionsMax = 256;

    private readonly WebApplication _app;

    private AdminListener(WebApplication app, IReadOnlyList<Uri> bound)
    {
        _app = app;
        Addresses = bound;
    }

    /// <summary>The bound addresses (<c>http://127.0.0.1:54321</c>); a configured port 0 is the port the system picked.</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    /// <summary>
    /// Starts the listener on <paramref name="urls"/>. A port another process holds fails with an
    /// <see cref="IOException"/> naming tributary.admin.listeners.
    /// </summary>
    internal static async Task<AdminListener> StartAsync(IReadOnlyList<Uri> urls, TributaryBroker broker, IEnumerable<Action<WebApplication, TributaryBroker>> routes,
        ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        // The empty builder: no configuration sources (appsettings.json, ASPNETCORE_* variables), so nothing watches the
        // working directory (the slim builder's reloadable appsettings.json put an inotify watch on every directory
        // under it, the broker's own log directory included) and start-up resolves only the services used here.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [] });
        builder.Services.AddRoutingCore();
        // The broker's loggers, without ASP.NET Core's per-request lines or the host's own report of a failed bind
        // (the broker reports that, naming the key).
        builder.Logging.AddProvider(new BrokerLoggers(loggerFactory))
            .AddFilter("Microsoft", LogLevel.Warning)
            .AddFilter("Microsoft.Extensions.Hosting", LogLevel.None)
            .AddFilter("Microsoft.Hosting.Lifetime", LogLevel.None);
        // /metrics: OpenTelemetry's Prometheus exporter over the broker's meters and the runtime's own (GC, thread
        // pool, exceptions: the System.Runtime meter of .NET 9 and later). Each scrape reads the instruments afresh.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(ServerMetrics.Meter.Name, BrokerMetrics.MeterName, "System.Runtime")
            .AddView(MetricSeriesLimits.For)
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = RequestBodyBytesMax;
            k.Limits.MaxRequestHeadersTotalSize = RequestHeadersBytesMax;
            k.Limits.MaxConcurrentConnections = ConnectionsMax;
        });
        builder.WebHost.UseUrls([.. urls.Select(u => u.GetLeftPart(UriPartial.Authority))]);
        var app = builder.Build();
        MapRoutes(app, broker);
        foreach (var map in routes)
        {
            map(app, broker);
        }

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            // Kestrel's own message names the address; the key tells the operator what to change.
            throw new IOException($"{AdminListeners.Key}: cannot listen on {AdminListeners.Format(urls)}: {e.Message}");
        }

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        LogListening(loggerFactory.CreateLogger<AdminListener>(), string.Join(", ", addresses));
        return new AdminListener(app, [.. addresses.Select(a => new Uri(a))]);
    }

    /// <summary>
    /// The admin listener's own routes; the place to add more (the web console maps its pages here). Embedders add
    /// theirs through <see cref="TributaryBrokerOptions.AdminRoutes"/>. Any other path answers 404.
    /// </summary>
    public static void MapRoutes(IEndpointRouteBuilder endpoints, TributaryBroker broker)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(broker);

        // Live: the process answers HTTP. Ready: the Kafka listeners are bound, the logs recovered and the metadata
        // loaded; otherwise 503 with the reason, so a load balancer or an orchestrator waits.
        endpoints.MapPrometheusScrapingEndpoint("/metrics");
        endpoints.MapGet("/health/live", context => Results.Text("live\n").ExecuteAsync(context));
        endpoints.MapGet("/health/ready", context => (broker.NotReadyReason is { } reason
            ? Results.Text($"not ready: {reason}\n", statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Text("ready\n")).ExecuteAsync(context));

        // The web console (Console/README.md): its pages under /console/ and their JSON API under /console/api/.
        endpoints.MapTributaryConsole(broker);
    }

    public async Task StopAsync(CancellationToken cancellationToken = default) =>
        await _app.StopAsync(cancellationToken).ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class BrokerLoggers(ILoggerFactory loggerFactory) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => loggerFactory.CreateLogger(categoryName);

        public void Dispose()
        {
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Admin listener (metrics, health) on {Addresses}")]
    private static partial void LogListening(ILogger logger, string addresses);
}
