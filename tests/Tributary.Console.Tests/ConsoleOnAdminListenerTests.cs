using System.Net;
using Microsoft.Playwright;
using Tributary.Server;
using static Microsoft.Playwright.Assertions;

namespace Tributary.Console.Tests;

/// <summary>The console as `tributary serve` offers it: on the broker's own admin listener, next to /metrics and /health.</summary>
public sealed class ConsoleOnAdminListenerTests
{
    [Fact]
    public async Task The_admin_listener_serves_the_console()
    {
        var options = new TributaryBrokerOptions { InMemory = true, Topics = { ["served"] = 5 } };
        options.Config["tributary.admin.listeners"] = "http://127.0.0.1:0";
        await using var broker = await TributaryBroker.StartAsync(options);
        var address = Assert.Single(broker.AdminAddresses);

        using (var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = address })
        {
            var bare = await http.GetAsync(new Uri("/console", UriKind.Relative));
            Assert.Equal(HttpStatusCode.Redirect, bare.StatusCode);
            Assert.Equal("/console/", bare.Headers.Location?.OriginalString);
            var unknownApi = await http.GetAsync(new Uri("/console/api/nothing", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, unknownApi.StatusCode);
        }

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = ConsoleFixture.ChromiumPath, Headless = true });
        var page = await browser.NewPageAsync();
        await page.GotoAsync(new Uri(address, "/console/#/topics").ToString());
        await Expect(page.Locator("#topics tr[data-topic='served'] td").Nth(1)).ToHaveTextAsync("5", new() { Timeout = 20_000 });
        Directory.CreateDirectory(ConsoleFixture.ScreenshotDirectory);
        await ConsoleFixture.ScreenshotAsync(page, "admin-listener-topics");
    }
}
