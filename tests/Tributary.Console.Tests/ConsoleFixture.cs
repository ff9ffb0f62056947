using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Playwright;
using Tributary.Server;
using Tributary.Server.Admin.Console;

namespace Tributary.Console.Tests;

/// <summary>
/// An embedded broker with the web console on an HTTP listener on a free port, and Debian's Chromium driven by
/// Playwright (its driver ships in the NuGet package; no browser is downloaded: <c>ExecutablePath</c> is the
/// system's). Screenshots go to <c>TestResults/console-screenshots</c> under the test output, one per page and test.
/// </summary>
public class ConsoleFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private WebApplication? _app;
    private IPlaywright? _playwright;

    public TributaryBroker Broker { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public string BaseUrl { get; private set; } = "";

    public SearchGate Gate { get; } = new();

    public static string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "TestResults", "console-screenshots");

    protected virtual TributaryBrokerOptions BrokerOptions => new() { InMemory = true };

    public virtual async Task InitializeAsync()
    {
        Librdkafka.EnsureLoaded();
        Broker = await TributaryBroker.StartAsync(BrokerOptions);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.MapTributaryConsole(Broker, new ConsoleOptions { BeforeSearchRead = Gate.BeforeReadAsync });
        await _app.StartAsync();
        BaseUrl = _app.Urls.First().TrimEnd('/');

        Assert.True(File.Exists(ChromiumPath), $"the browser tests need Debian's chromium at {ChromiumPath} (./test.sh installs it)");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = ChromiumPath, Headless = true });
        Assertions.SetDefaultExpectTimeout(20_000);
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new() { BaseURL = BaseUrl, ViewportSize = new() { Width = 1400, Height = 900 } });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(20_000);
        return page;
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new() { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });

    public IProducer<string?, string> Producer() =>
        new ProducerBuilder<string?, string>(new ProducerConfig { BootstrapServers = Broker.BootstrapServers, Acks = Acks.All, LingerMs = 0 }).Build();

    public virtual async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        if (Broker is not null)
        {
            await Broker.DisposeAsync();
        }
    }
}
