using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tributary.Console.Tests;

/// <summary>
/// The console on a broker with SASL and ACLs: it asks for a login checked by the broker's own PLAIN and SCRAM code,
/// keeps the session in an HttpOnly, SameSite=Strict cookie, and shows and changes only what the principal's ACLs allow.
/// </summary>
public sealed class ConsoleSecurityTests(SecuredConsoleFixture fixture) : IClassFixture<SecuredConsoleFixture>
{
    [Fact]
    public async Task The_console_asks_for_a_login_and_refuses_a_wrong_password()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/console/#/topics");
        await Expect(page.Locator("#login-form")).ToBeVisibleAsync();
        await page.Locator("#login-username").FillAsync("alice");
        await page.Locator("#login-password").FillAsync("wrong");
        await page.Locator("#login-submit").ClickAsync();
        await Expect(page.Locator(".login [role=alert]")).ToHaveTextAsync("invalid username or password");
        await ConsoleFixture.ScreenshotAsync(page, "login-refused");

        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        var response = await http.GetAsync("/console/api/topics");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_user_sees_and_reads_only_what_the_acls_allow()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/console/#/topics");
        await LogInAsync(page, "alice", "al1ce-secret");
        await Expect(page.Locator("#principal")).ToHaveTextAsync("User:alice");
        await Expect(page.Locator("#topics tr[data-topic='open']")).ToHaveCountAsync(1);
        await Expect(page.Locator("#topics tr[data-topic='closed']")).ToHaveCountAsync(0);
        await ConsoleFixture.ScreenshotAsync(page, "topics-as-alice");

        // The session cookie is out of reach of scripts and of other sites.
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == "tributary-console");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);

        // No CREATE on the cluster or topic: the broker's CreateTopics handler refuses, as it would refuse a client.
        await page.Locator("#create-name").FillAsync("alice-topic");
        await page.Locator("#create-submit").ClickAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("TOPIC_AUTHORIZATION_FAILED");
        Assert.Null(fixture.Broker.Core.Metadata.Find("alice-topic"));

        await page.GotoAsync("/console/#/topics/closed/messages");
        await Expect(page.Locator("[role=alert]")).ToContainTextAsync("User:alice may not DESCRIBE topic closed");

        // Reading "open" is allowed; writing to it is not.
        await page.GotoAsync("/console/#/topics/open/produce");
        await page.Locator("#produce-value").FillAsync("from alice");
        await page.Locator("#produce-submit").ClickAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("TOPIC_AUTHORIZATION_FAILED");
        Assert.Equal(0, fixture.Broker.Core.Logs.TryGet("open", 0, out var log) ? log.HighWatermark : -1);

        await page.Locator("#logout").ClickAsync();
        await Expect(page.Locator("#login-form")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_super_user_creates_a_topic()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/console/#/topics");
        await LogInAsync(page, "admin", "adm1n-secret");
        await page.Locator("#create-name").FillAsync("admin-topic");
        await page.Locator("#create-partitions").FillAsync("2");
        await page.Locator("#create-submit").ClickAsync();
        await Expect(page.Locator("#topics tr[data-topic='admin-topic'] td").Nth(1)).ToHaveTextAsync("2");
        await Expect(page.Locator("#topics tr[data-topic='closed']")).ToHaveCountAsync(1);
    }

    [Fact]
    public async Task A_user_with_only_a_scram_credential_logs_in_through_scram()
    {
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer() };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(fixture.BaseUrl) };
        using var wrong = new StringContent("{\"username\":\"carol\",\"password\":\"nope\"}", Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync("/console/api/login", wrong)).StatusCode);

        using var right = new StringContent("{\"username\":\"carol\",\"password\":\"car0l-secret\"}", Encoding.UTF8, "application/json");
        var response = await http.PostAsync("/console/api/login", right);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var session = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("User:carol", session.RootElement.GetProperty("principal").GetString());

        // The cookie now identifies carol; without any ACL she sees no topic.
        using var topics = JsonDocument.Parse(await http.GetStringAsync("/console/api/topics"));
        Assert.Equal(0, topics.RootElement.GetArrayLength());

        // A change needs the session's CSRF token, not only the cookie.
        using var body = new StringContent("{\"name\":\"carol-topic\"}", Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.Forbidden, (await http.PostAsync("/console/api/topics", body)).StatusCode);
    }

    private static async Task LogInAsync(IPage page, string user, string password)
    {
        await page.Locator("#login-username").FillAsync(user);
        await page.Locator("#login-password").FillAsync(password);
        await page.Locator("#login-submit").ClickAsync();
        await Expect(page.Locator("#principal")).ToHaveTextAsync("User:" + user);
    }
}
