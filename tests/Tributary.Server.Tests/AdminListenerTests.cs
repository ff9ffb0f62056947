using System.Net;
using Tributary.Server.Admin;

namespace Tributary.Server.Tests;

/// <summary>The HTTP admin listener (tributary.admin.listeners) of an embedded broker: health, 404s, bad addresses.</summary>
public sealed class AdminListenerTests
{
    private static TributaryBrokerOptions WithAdmin(string urls = "http://127.0.0.1:0")
    {
        var options = new TributaryBrokerOptions();
        options.Config["tributary.admin.listeners"] = urls;
        return options;
    }

    [Fact]
    public async Task TheEmbeddedBrokerHasNoAdminListenerUnlessAsked()
    {
        await using var broker = await TributaryBroker.StartAsync();

        Assert.Empty(broker.AdminAddresses);
        Assert.Empty(broker.Config.AdminListeners);
    }

    [Fact]
    public async Task OnAFreePortItAnswersLiveAndReadyAndUnknownPathsAre404()
    {
        await using var broker = await TributaryBroker.StartAsync(WithAdmin());
        var address = Assert.Single(broker.AdminAddresses);
        Assert.NotEqual(0, address.Port);
        using var http = new HttpClient { BaseAddress = address };

        using var live = await http.GetAsync(new Uri("/health/live", UriKind.Relative));
        using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        using var unknown = await http.GetAsync(new Uri("/no/such/page", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready\n", await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Null(broker.NotReadyReason);
    }

    [Fact]
    public async Task AfterStopItNoLongerAnswers()
    {
        var broker = await TributaryBroker.StartAsync(WithAdmin());
        var address = broker.AdminAddresses[0];
        await broker.DisposeAsync();

        using var http = new HttpClient { BaseAddress = address };
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri("/health/live", UriKind.Relative)));
    }

    [Fact]
    public async Task ASecondBrokerOnTheSameAdminPortFailsToStartNamingTheKey()
    {
        await using var first = await TributaryBroker.StartAsync(WithAdmin());
        var taken = first.AdminAddresses[0];

        var error = await Assert.ThrowsAsync<IOException>(() => TributaryBroker.StartAsync(WithAdmin($"http://127.0.0.1:{taken.Port}")));

        Assert.Contains("tributary.admin.listeners", error.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{taken.Port}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStartThatFailsAfterTheAdminListenerBoundReleasesItsPort()
    {
        var directory = Directory.CreateTempSubdirectory("tributary-admin-").FullName;
        try
        {
            var owner = WithAdmin();
            owner.InMemory = false;
            owner.DataDirectory = directory;
            await using var running = await TributaryBroker.StartAsync(owner);
            var port = FreeLoopbackPort();

            // The data directory is held by the running broker: the start fails, and an admin listener it had bound
            // (after TributaryBroker.AdminListenerStartDelayMs) is stopped again.
            var second = WithAdmin($"http://127.0.0.1:{port}");
            second.InMemory = false;
            second.DataDirectory = directory;
            await Assert.ThrowsAnyAsync<IOException>(() => TributaryBroker.StartAsync(second));

            await using var third = await TributaryBroker.StartAsync(WithAdmin($"http://127.0.0.1:{port}"));
            Assert.Equal(port, third.AdminAddresses[0].Port);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task AnAdminPortAlreadyTakenStopsTheCoreThatStartedBesideIt()
    {
        var directory = Directory.CreateTempSubdirectory("tributary-admin-").FullName;
        try
        {
            await using var first = await TributaryBroker.StartAsync(WithAdmin());
            var taken = first.AdminAddresses[0];

            // The core starts beside the admin listener; when the admin listener cannot bind, the core lets go of
            // its data directory again, so another broker can open it.
            var second = WithAdmin($"http://127.0.0.1:{taken.Port}");
            second.InMemory = false;
            second.DataDirectory = directory;
            await Assert.ThrowsAsync<IOException>(() => TributaryBroker.StartAsync(second));

            await using var third = await TributaryBroker.StartAsync(new TributaryBrokerOptions { InMemory = false, DataDirectory = directory });
            Assert.Null(third.NotReadyReason);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task WhileTheStartWaitsTheAdminListenerAnswersLiveAndNotReadyAndACancelledStartReleasesItsPort()
    {
        // A start that cannot finish: cluster mode with an etcd nobody listens on, retried until cancelled. After
        // AdminListenerStartDelayMs the admin listener starts beside it.
        var port = FreeLoopbackPort();
        var options = WithAdmin($"http://127.0.0.1:{port}");
        options.Config["tributary.metadata.etcd.endpoints"] = $"http://127.0.0.1:{FreeLoopbackPort()}";
        options.Config["tributary.metadata.etcd.connect.timeout.ms"] = "600000";
        using var cancel = new CancellationTokenSource();
        using var hangGuard = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var start = TributaryBroker.StartAsync(options, cancel.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        HttpResponseMessage? live = null;
        while (live is null)
        {
            Assert.False(start.IsCompleted, "the start cannot complete without etcd");
            try
            {
                live = await http.GetAsync(new Uri("/health/live", UriKind.Relative), hangGuard.Token);
            }
            catch (HttpRequestException)
            {
                await Task.Delay(20, hangGuard.Token);
            }
        }

        using (live)
        {
            using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative), hangGuard.Token);
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.StartsWith("not ready: starting", await ready.Content.ReadAsStringAsync(hangGuard.Token), StringComparison.Ordinal);
        }

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => start);

        await using var next = await TributaryBroker.StartAsync(WithAdmin($"http://127.0.0.1:{port}"));
        Assert.Equal(port, next.AdminAddresses[0].Port);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task RoutesAddedThroughTheOptionsAreServedBesideTheBuiltInOnes()
    {
        var options = WithAdmin();
        options.AdminRoutes.Add((app, b) => Microsoft.AspNetCore.Builder.EndpointRouteBuilderExtensions.MapGet(app, "/extra", () => b.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await using var broker = await TributaryBroker.StartAsync(options);
        using var http = new HttpClient { BaseAddress = broker.AdminAddresses[0] };

        Assert.Equal(broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), await http.GetStringAsync(new Uri("/extra", UriKind.Relative)));
    }

    [Fact]
    public async Task ARestartKeepsTheAdminListenerAndItIsReadyAgain()
    {
        var options = WithAdmin();
        options.InMemory = false;
        await using var broker = await TributaryBroker.StartAsync(options);
        var address = broker.AdminAddresses[0];

        await broker.RestartAsync();

        Assert.Equal(address, broker.AdminAddresses[0]);
        using var http = new HttpClient { BaseAddress = address };
        using var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Theory]
    [InlineData("127.0.0.1:9644", "is not http://host:port")]
    [InlineData("https://127.0.0.1:9644", "is not http://host:port")]
    [InlineData("http://127.0.0.1", "has no port")]
    [InlineData("http://127.0.0.1:9644/metrics", "more than a host and port")]
    [InlineData("http://admin.example:9644", "must be an IP address")]
    [InlineData("http://localhost:0", "port 0 needs an IP address")]
    public async Task ABadAddressIsAConfigurationErrorNamingTheKey(string urls, string expected)
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => TributaryBroker.StartAsync(WithAdmin(urls)));

        Assert.Contains("tributary.admin.listeners", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeadersOverTheNamedLimitAreRefused()
    {
        await using var broker = await TributaryBroker.StartAsync(WithAdmin());
        using var http = new HttpClient { BaseAddress = broker.AdminAddresses[0] };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/health/live", UriKind.Relative));
        request.Headers.Add("X-Padding", new string('x', AdminListener.RequestHeadersBytesMax + 1));

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
    }
}
