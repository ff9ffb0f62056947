using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tributary.Broker;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Server.Networking;

namespace Tributary.Server.Hosting;

/// <summary>
/// Kestrel's server and socket transport, composed directly rather than through the generic host: the host's
/// configuration, environment and hosted-service machinery cost more start-up time than a whole embedded
/// broker should, and Tributary uses none of them. Kestrel still provides sockets, connection limits and
/// graceful shutdown of open connections.
/// </summary>
public sealed partial class KafkaListener : IAsyncDisposable
{
    private readonly KestrelServer _server;
    private readonly ServiceProvider _services;

    private KafkaListener(KestrelServer server, ServiceProvider services, IReadOnlyList<ListenerEndpoint> bound)
    {
        _server = server;
        _services = services;
        Bound = bound;
    }

    /// <summary>The first listener's bound port.</summary>
    public int Port => Bound[0].Port;

    /// <summary>Every listener with the port it is bound to (a configured port 0 is the one the system picked).</summary>
    public IReadOnlyList<ListenerEndpoint> Bound { get; }

    public static async Task<KafkaListener> StartAsync(BrokerCore core, RequestDispatcher dispatcher, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var config = core.Config;
        var addresses = new List<IPAddress>();
        foreach (var endpoint in config.Listeners)
        {
            addresses.Add(await ResolveAsync(endpoint.Host, cancellationToken).ConfigureAwait(false));
        }

        var connectionsPerIp = await ConnectionsPerIpAsync(config, cancellationToken).ConfigureAwait(false);
        var queuedRequestBytes = new ByteBudget(config.QueuedMaxRequestBytes);
        var transportLimits = SocketTransportLimits.Default;
        LogMemoryBudget(loggerFactory.CreateLogger<KafkaListener>(), Budget(queuedRequestBytes.IsBounded ? queuedRequestBytes.LimitBytes : -1),
            Budget(core.DecompressionScratch.IsBounded ? core.DecompressionScratch.LimitBytes : -1), config.ConnectionsMax,
            Budget(transportLimits.InputBufferBytesMax), Budget(transportLimits.OutputBufferBytesMax),
            Budget((long)transportLimits.PooledBlocksMax * BlockMemoryPool.BlockBytes));
        var services = new ServiceCollection()
            .AddSingleton(loggerFactory)
            .AddSingleton(typeof(ILogger<>), typeof(Logger<>))
            .AddSingleton(dispatcher)
            .AddSingleton(new ConnectionLimits(config.SocketRequestMaxBytes, config.ConnectionsMaxIdleMs, config.PartialRequestTimeoutMs, queuedRequestBytes))
            .BuildServiceProvider();
        var options = new KestrelServerOptions { ApplicationServices = services };
        options.Limits.MaxConcurrentConnections = config.ConnectionsMax;
        // One connection handler per listener, knowing the listener's name and how it authenticates.
        var listenOptions = new ListenOptions?[config.Listeners.Count];
        for (var i = 0; i < config.Listeners.Count; i++)
        {
            var index = i;
            var security = core.ListenerSecurity(config.Listeners[i].Name);
            var handler = ActivatorUtilities.CreateInstance<KafkaConnectionHandler>(services, security);

            // A TLS listener's keystore is read now: one that cannot be read is a start error, not a failed handshake.
            var tls = security.UsesTls ? new TlsServerContext(security.Name, () => core.Config, loggerFactory.CreateLogger<TlsServerContext>()) : null;
            options.Listen(addresses[i], config.Listeners[i].Port, l =>
            {
                listenOptions[index] = l;
                if (tls is not null)
                {
                    var logger = loggerFactory.CreateLogger<TlsConnectionMiddleware>();
                    l.Use(next => new TlsConnectionMiddleware(next, security.Name, tls, TimeSpan.FromMilliseconds(config.SslHandshakeTimeoutMs), logger).OnConnectionAsync);
                }

                l.Run(handler.OnConnectedAsync);
            });
        }

        var transport = new SocketListenerFactory(transportLimits, loggerFactory, connectionsPerIp, Admission(core, addresses),
            new IpConnectionCreationRates(core.Quotas.ConnectionCreationRateFor));
        var server = new KestrelServer(Options.Create(options), transport, loggerFactory);
        try
        {
            await server.StartAsync(new NoHttpApplication(), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            server.Dispose();
            await services.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new KafkaListener(server, services,
            [.. config.Listeners.Select((l, i) => l with { Port = listenOptions[i]?.IPEndPoint?.Port ?? l.Port })]);
    }

    /// <summary>
    /// max.connection.creation.rate (one rate all listeners share) and each listener's own rate and max.connections,
    /// found by the endpoint it binds; two listeners on one endpoint (port 0 twice) cannot be told apart and get only
    /// the broker-wide limits, and TLS over the transport's pipes instead of straight over the socket.
    /// </summary>
    private static Func<IPEndPoint, ListenerAdmission> Admission(BrokerCore core, List<IPAddress> addresses)
    {
        var config = core.Config;
        var samples = config.QuotaWindowNum;
        var windowMs = config.QuotaWindowSizeSeconds * 1000L;
        ConnectionCreationRate? brokerWide = config.ConnectionCreationRateMax < int.MaxValue
            ? new("max.connection.creation.rate", config.ConnectionCreationRateMax, samples, windowMs, core.Time)
            : null;
        var endpoints = config.Listeners.Select((l, i) => new IPEndPoint(addresses[i], l.Port)).ToList();
        return endpoint =>
        {
            var index = endpoints.FindIndex(e => e.Equals(endpoint));
            var name = index >= 0 && endpoints.Count(e => e.Equals(endpoint)) == 1 ? config.Listeners[index].Name : null;
            var own = name is not null && config.ConnectionCreationRateMaxFor(name) is { } rate && rate < int.MaxValue
                ? new ConnectionCreationRate(Listeners.PerListenerKey(name, "max.connection.creation.rate"), rate, samples, windowMs, core.Time)
                : null;
            var connections = name is not null && config.ConnectionsMaxFor(name) is { } max
                ? new ListenerConnections(Listeners.PerListenerKey(name, "max.connections"), max)
                : null;
            var tls = name is not null && core.ListenerSecurity(name).UsesTls;
            return new([.. new[] { brokerWide, own }.OfType<ConnectionCreationRate>()], connections, tls);
        };
    }

    /// <summary>
    /// The address a listener's host names: an IP address as it is, a host name (<c>localhost</c>) resolved, its first
    /// IPv4 address preferred (as Kafka, it binds one address). A name that does not resolve is an
    /// <see cref="IOException"/>, which the CLI reports as a start it cannot make.
    /// </summary>
    internal static async Task<IPAddress> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out var address))
        {
            return address;
        }

        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new IOException($"cannot listen on {host}: the host name does not resolve ({e.Message})", e);
        }

        return addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
            ?? addresses.FirstOrDefault()
            ?? throw new IOException($"cannot listen on {host}: the host name resolves to no address");
    }

    /// <summary>max.connections.per.ip with its overrides, host names among them resolved (each of their addresses gets the limit).</summary>
    private static async Task<ConnectionsPerIp> ConnectionsPerIpAsync(BrokerConfig config, CancellationToken cancellationToken)
    {
        var overrides = new Dictionary<IPAddress, int>();
        foreach (var (host, limit) in config.ConnectionsMaxPerIpOverrides)
        {
            IPAddress[] addresses;
            if (IPAddress.TryParse(host, out var address))
            {
                addresses = [address];
            }
            else
            {
                try
                {
                    addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
                }
                catch (System.Net.Sockets.SocketException e)
                {
                    throw new IOException($"max.connections.per.ip.overrides: the host name {host} does not resolve ({e.Message})", e);
                }
            }

            foreach (var a in addresses)
            {
                overrides[a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a] = limit;
            }
        }

        return new ConnectionsPerIp(config.ConnectionsMaxPerIp, overrides);
    }

    /// <summary>Longest a stop waits for open connections to finish their current request before closing them.</summary>
    public static readonly TimeSpan ShutdownGraceMax = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Stops accepting, lets open connections finish their current request (at most <see cref="ShutdownGraceMax"/>,
    /// less if <paramref name="cancellationToken"/> fires), then closes them.
    /// </summary>
    public async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        grace.CancelAfter(ShutdownGraceMax);
        await _server.StopAsync(grace.Token).ConfigureAwait(false);
        _server.Dispose();
        await _services.DisposeAsync().ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => StopAsync(CancellationToken.None);

    /// <summary>Kestrel wants an HTTP application; the only endpoint is a Kafka connection handler, so it is never called.</summary>
    private sealed class NoHttpApplication : IHttpApplication<object>
    {
        public object CreateContext(IFeatureCollection contextFeatures) => throw new NotSupportedException("Tributary serves no HTTP");

        public Task ProcessRequestAsync(object context) => throw new NotSupportedException("Tributary serves no HTTP");

        public void DisposeContext(object context, Exception? exception)
        {
        }
    }

    /// <summary>Bytes as MiB for the start-up line; a negative count is "unbounded".</summary>
    private static string Budget(long bytes) =>
        bytes < 0 ? "unbounded" : (bytes / (1024.0 * 1024)).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) + " MiB";

    [LoggerMessage(EventId = 317, Level = LogLevel.Information,
        Message = "Memory budget: queued.max.request.bytes {QueuedRequests}, tributary.decompression.memory.bytes {Decompression}; per connection (max.connections {Connections}) {InputBuffer} received and {OutputBuffer} unsent; {PooledBlocks} of idle transport blocks")]
    private static partial void LogMemoryBudget(ILogger logger, string queuedRequests, string decompression, int connections, string inputBuffer, string outputBuffer, string pooledBlocks);
}
