using System.Net;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tributary.Console.Tests;

/// <summary>
/// The web console in Chromium against a broker with data: each page clicked through as a user would, asserting what
/// it shows (never how fast). Proves the pages, their JSON API and the broker's state agree.
/// </summary>
public sealed class ConsolePagesTests(ConsoleDataFixture fixture) : IClassFixture<ConsoleDataFixture>
{
    [Fact]
    public async Task Overview_shows_the_broker_topics_partitions_and_groups()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/console/");
        await Expect(page.Locator("#ov-brokers")).ToHaveTextAsync("1");
        var topics = int.Parse(await page.Locator("#ov-topics").InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(topics >= 2, $"orders and bulk at least, saw {topics}");
        await Expect(page.Locator("#brokers")).ToContainTextAsync(fixture.Broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(page.Locator("#ov-groups")).Not.ToHaveTextAsync("0");
        await ConsoleFixture.ScreenshotAsync(page, "overview");
    }

    [Fact]
    public async Task Topics_page_shows_a_topic_with_its_partition_count_and_end_offsets()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/console/#/topics");
        var row = page.Locator("#topics tr[data-topic='orders']");
        await Expect(row.Locator("td").Nth(1)).ToHaveTextAsync("3");
        await Expect(row.Locator("td").Nth(2)).ToHaveTextAsync((3 * ConsoleDataFixture.OrdersPerPartition).ToString(System.Globalization.CultureInfo.InvariantCulture));
        await ConsoleFixture.ScreenshotAsync(page, "topics");

        await row.Locator("a").ClickAsync();
        await Expect(page.Locator("#topic-name")).ToHaveTextAsync("orders");
        for (var p = 0; p < 3; p++)
        {
            var cells = page.Locator($"#partitions tr[data-partition='{p}'] td");
            await Expect(cells.Nth(1)).ToHaveTextAsync("0");
            await Expect(cells.Nth(2)).ToHaveTextAsync(ConsoleDataFixture.OrdersPerPartition.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        // Configs come with their source, as DescribeConfigs reports them.
        await Expect(page.Locator("#configs tr[data-config='cleanup.policy'] td").Nth(2)).ToHaveTextAsync("DEFAULT_CONFIG");
        await ConsoleFixture.ScreenshotAsync(page, "topic");
    }

    [Fact]
    public async Task Browsing_shows_key_headers_and_value_as_pretty_json_newest_first_and_as_hex()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/console/#/topics/orders/messages?partition=1");
        var rows = page.Locator("#messages tbody tr");
        await Expect(rows).ToHaveCountAsync(ConsoleDataFixture.OrdersPerPartition);

        // Partition 1 holds orders 1, 4, 7, 10: newest first, order 10 at offset 3 is the first row.
        var first = rows.First;
        await Expect(first).ToHaveAttributeAsync("data-offset", "3");
        await Expect(first.Locator("td").Nth(2)).ToHaveTextAsync("order-10");
        await Expect(first.Locator("td.headers")).ToContainTextAsync("trace-id=t-10");
        await Expect(first.Locator("td.headers")).ToContainTextAsync("source=web");
        var pretty = await first.Locator("td").Nth(4).Locator("pre").InnerTextAsync();
        Assert.Contains("\n  \"customer\": {\n    \"id\": \"c-0\"", pretty.Replace("\r", "", StringComparison.Ordinal), StringComparison.Ordinal);
        await ConsoleFixture.ScreenshotAsync(page, "messages");

        // From offset 1, oldest first, shown as hex.
        await page.Locator("#browse-offset").FillAsync("1");
        await page.Locator("#browse-order").SelectOptionAsync("oldest");
        await page.Locator("#browse-view").SelectOptionAsync("hex");
        await page.Locator("#browse-submit").ClickAsync();
        await Expect(rows.First).ToHaveAttributeAsync("data-offset", "1");
        await Expect(rows).ToHaveCountAsync(ConsoleDataFixture.OrdersPerPartition - 1);
        await Expect(rows.First.Locator("td").Nth(4)).ToContainTextAsync(Convert.ToHexStringLower("{\"id\":4,"u8));
        await ConsoleFixture.ScreenshotAsync(page, "messages-hex");
    }

    [Fact]
    public async Task Search_finds_the_one_record_by_json_field_and_by_header()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/console/#/topics/orders/search");
        await page.Locator("#search-field").SelectOptionAsync("json");
        await page.Locator("#search-json-path").FillAsync("$.customer.id");
        await page.Locator("#search-query").FillAsync("c-needle");
        await page.Locator("#search-submit").ClickAsync();
        await Expect(page.Locator("#search-state")).ToHaveAttributeAsync("data-state", "done");
        var matches = page.Locator("#matches tbody tr");
        await Expect(matches).ToHaveCountAsync(1);
        await Expect(matches.First.Locator("td").Nth(3)).ToHaveTextAsync("order-7");
        await Expect(page.Locator("#search-counts")).ToContainTextAsync($"1 matches, {3 * ConsoleDataFixture.OrdersPerPartition} records");
        await ConsoleFixture.ScreenshotAsync(page, "search-json");

        await page.Locator("#search-field").SelectOptionAsync("header");
        await page.Locator("#search-header-key").FillAsync("trace-id");
        await page.Locator("#search-query").FillAsync("t-needle");
        await page.Locator("#search-submit").ClickAsync();
        await Expect(page.Locator("#search-counts")).ToContainTextAsync("1 matches");
        await Expect(matches).ToHaveCountAsync(1);
        await Expect(matches.First).ToHaveAttributeAsync("data-partition", "1");
        await Expect(matches.First).ToHaveAttributeAsync("data-offset", "2");
        await ConsoleFixture.ScreenshotAsync(page, "search-header");
    }

    [Fact]
    public async Task Cancel_stops_a_running_search_on_the_server()
    {
        // One read gets through (partition 0 of bulk), the next parks at the gate until the search's token fires.
        fixture.Gate.HoldAfter(1);
        try
        {
            var page = await fixture.NewPageAsync();
            await page.GotoAsync("/console/#/topics/bulk/search");
            await page.Locator("#search-query").FillAsync("no record holds this text");
            await page.Locator("#search-submit").ClickAsync();
            await fixture.Gate.Parked.WaitAsync(TimeSpan.FromSeconds(30));
            await Expect(page.Locator("#search-state")).ToHaveAttributeAsync("data-state", "running");
            await Expect(page.Locator("#search-counts")).ToContainTextAsync("0 matches, 100 records");
            await ConsoleFixture.ScreenshotAsync(page, "search-running");

            await page.Locator("#search-cancel").ClickAsync();
            await fixture.Gate.Cancelled.WaitAsync(TimeSpan.FromSeconds(30));
            await Expect(page.Locator("#search-state")).ToHaveAttributeAsync("data-state", "cancelled");
            await Expect(page.Locator("#search-counts")).ToContainTextAsync("0 matches, 100 records");
            Assert.Equal(1, fixture.Gate.ReadsPassed);
            await ConsoleFixture.ScreenshotAsync(page, "search-cancelled");
        }
        finally
        {
            fixture.Gate.Open();
        }
    }

    [Fact]
    public async Task A_message_produced_from_the_page_is_read_by_a_kafka_client()
    {
        await fixture.Broker.CreateTopicAsync("from-page", 2);
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/console/#/topics/from-page/produce");
        await page.Locator("#produce-partition").SelectOptionAsync("1");
        await page.Locator("#produce-key").FillAsync("k-1");
        await page.Locator("#produce-value").FillAsync("{\"hello\":\"console\"}");
        await page.Locator("#produce-headers").FillAsync("origin=console");
        await page.Locator("#produce-submit").ClickAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync("Produced to partition 1 at offset 0.");
        await ConsoleFixture.ScreenshotAsync(page, "produce");

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig { BootstrapServers = fixture.Broker.BootstrapServers, GroupId = "reader" }).Build();
        consumer.Assign(new TopicPartitionOffset("from-page", 1, 0));
        var result = consumer.Consume(TimeSpan.FromSeconds(30));
        Assert.NotNull(result);
        Assert.Equal("k-1", result.Message.Key);
        Assert.Equal("{\"hello\":\"console\"}", result.Message.Value);
        Assert.Equal("console", Encoding.UTF8.GetString(result.Message.Headers.GetLastBytes("origin")));
    }

    [Fact]
    public async Task Group_page_shows_lag_per_partition_and_a_lag_chart_and_resets_offsets()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/console/#/groups");
        await Expect(page.Locator("#groups tr[data-group='billing'] td").Nth(4)).ToHaveTextAsync("5");
        await ConsoleFixture.ScreenshotAsync(page, "groups");

        await page.Locator("#groups tr[data-group='billing'] a").ClickAsync();
        await Expect(page.Locator("#group-lag")).ToHaveTextAsync("5");
        await Expect(page.Locator("#offsets tr[data-partition='0'] td.lag")).ToHaveTextAsync("2");
        await Expect(page.Locator("#offsets tr[data-partition='1'] td.lag")).ToHaveTextAsync("3");
        await Expect(page.Locator("#no-members")).ToBeVisibleAsync();
        await Expect(page.Locator("#lag-chart polyline")).ToHaveCountAsync(1);
        await ConsoleFixture.ScreenshotAsync(page, "group");

        // The group has no members, so its offsets can be reset: to latest leaves no lag.
        await page.Locator("#reset-topic").FillAsync("orders");
        await page.Locator("#reset-to").SelectOptionAsync("latest");
        await page.Locator("#reset-submit").ClickAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("reset 3 offsets of billing on orders");
        await Expect(page.Locator("#group-lag")).ToHaveTextAsync("0");
        var committed = fixture.Broker.Core.Groups.FetchOffsets("billing");
        Assert.Equal(ConsoleDataFixture.OrdersPerPartition, committed[("orders", 2)].Offset);
        await ConsoleFixture.ScreenshotAsync(page, "group-reset");

        // Back where the test found it, for the other tests.
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        var csrf = await CsrfAsync(http);
        foreach (var (partition, offset) in new[] { (0, 2), (1, 1), (2, 0) })
        {
            using var reset = Json($"{{\"topic\":\"orders\",\"to\":\"offset\",\"offset\":{offset},\"partitions\":[{partition}]}}", csrf);
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/console/api/groups/billing/reset", reset)).StatusCode);
        }
    }

    [Fact]
    public async Task Creating_altering_and_deleting_a_topic_from_the_page()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/console/#/topics");
        await page.Locator("#create-name").FillAsync("made-in-console");
        await page.Locator("#create-partitions").FillAsync("4");
        await page.Locator("#create-configs").FillAsync("retention.ms=3600000");
        await page.Locator("#create-submit").ClickAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("created topic made-in-console with 4 partitions");
        await Expect(page.Locator("#topics tr[data-topic='made-in-console'] td").Nth(1)).ToHaveTextAsync("4");
        Assert.Equal(4, fixture.Broker.Core.Metadata.Find("made-in-console")!.PartitionCount);

        // The same name again is refused with Kafka's error.
        await page.Locator("#create-name").FillAsync("made-in-console");
        await page.Locator("#create-submit").ClickAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("TOPIC_ALREADY_EXISTS");

        await page.Locator("#topics tr[data-topic='made-in-console'] a").ClickAsync();
        await Expect(page.Locator("#configs tr[data-config='retention.ms'] td").Nth(1)).ToHaveTextAsync("3600000");
        await Expect(page.Locator("#configs tr[data-config='retention.ms'] td").Nth(2)).ToHaveTextAsync("DYNAMIC_TOPIC_CONFIG");
        await page.Locator("#config-key").FillAsync("cleanup.policy");
        await page.Locator("#config-value").FillAsync("compact");
        await page.Locator("#config-submit").ClickAsync();
        await Expect(page.Locator("#configs tr[data-config='cleanup.policy'] td").Nth(1)).ToHaveTextAsync("compact");
        await page.Locator("#config-key").FillAsync("retention.ms");
        await page.Locator("#config-value").FillAsync("not-a-number");
        await page.Locator("#config-submit").ClickAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("INVALID_CONFIG");
        await ConsoleFixture.ScreenshotAsync(page, "topic-configs");

        await page.Locator("#delete-topic").ClickAsync();
        await page.Locator("#delete-confirm").ClickAsync();
        await Expect(page.Locator("#topics")).ToBeVisibleAsync();
        await Expect(page.Locator("#topics tr[data-topic='made-in-console']")).ToHaveCountAsync(0);
        Assert.Null(fixture.Broker.Core.Metadata.Find("made-in-console"));
    }

    [Theory]
    [InlineData("/console/api/topics/orders/messages?partition=3", "partition must be a whole number between 0 and 2")]
    [InlineData("/console/api/topics/orders/messages?partition=abc", "partition must be a whole number")]
    [InlineData("/console/api/topics/orders/messages?offset=-1", "offset must be a whole number between 0")]
    [InlineData("/console/api/topics/orders/messages?offset=99999999999999999999", "offset must be a whole number")]
    [InlineData("/console/api/topics/orders/messages?limit=100000", "limit must be a whole number between 1 and 500")]
    [InlineData("/console/api/topics/orders/messages?order=sideways", "order must be newest or oldest")]
    [InlineData("/console/api/topics/orders/messages?offset=1&timestamp=1", "give offset or timestamp, not both")]
    public async Task Absurd_browse_inputs_are_answered_400_with_a_message(string url, string message)
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        var response = await http.GetAsync(url);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, await ErrorAsync(response), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/console/api/topics/orders/search", "{\"field\":\"json\",\"jsonPath\":\"customer.id\",\"query\":\"x\"}", "jsonPath must start with $")]
    [InlineData("/console/api/topics/orders/search", "{\"field\":\"json\",\"jsonPath\":\"$.a[x]\",\"query\":\"x\"}", "jsonPath needs an index")]
    [InlineData("/console/api/topics/orders/search", "{\"field\":\"value\",\"query\":\"x\",\"bytesMax\":0}", "bytesMax must be between 1 and")]
    [InlineData("/console/api/topics/orders/search", "{\"field\":\"value\",\"query\":\"x\",\"timeMsMax\":99999999999}", "timeMsMax must be between 1 and")]
    [InlineData("/console/api/topics/orders/search", "{\"field\":\"colour\",\"query\":\"x\"}", "field must be key, value, header or json")]
    [InlineData("/console/api/topics/orders/search", "{\"field\":\"header\",\"query\":\"x\"}", "a header search needs headerKey")]
    [InlineData("/console/api/topics/orders/search", "{\"field\":", "the body is not valid JSON")]
    [InlineData("/console/api/topics", "{\"name\":\"bad/name\",\"partitions\":1}", "")]
    [InlineData("/console/api/topics", "{\"name\":\"ok-name\",\"partitions\":0}", "partitions must be between 1 and")]
    [InlineData("/console/api/topics", "{\"name\":\"ok-name\",\"partitions\":\"many\"}", "the body is not valid JSON")]
    [InlineData("/console/api/topics/orders/messages", "{\"partition\":7,\"value\":\"v\"}", "partition must be between 0 and 2")]
    [InlineData("/console/api/groups/billing/reset", "{\"topic\":\"orders\",\"to\":\"offset\",\"offset\":-5}", "to=offset needs an offset of 0 or more")]
    [InlineData("/console/api/groups/billing/reset", "{\"topic\":\"orders\",\"to\":\"earliest\",\"partitions\":[9]}", "topic orders has no partition 9")]
    [InlineData("/console/api/groups/billing/reset", "{\"topic\":\"orders\",\"to\":\"yesterday\"}", "to must be earliest, latest, offset or timestamp")]
    public async Task Absurd_inputs_to_changes_are_answered_400_with_a_message(string url, string body, string message)
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        using var content = Json(body, await CsrfAsync(http));
        var response = await http.PostAsync(url, content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, await ErrorAsync(response), StringComparison.Ordinal);
        Assert.Null(fixture.Broker.Core.Metadata.Find("ok-name"));
    }

    [Fact]
    public async Task A_search_stops_at_its_byte_limit_and_at_its_result_limit()
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        var csrf = await CsrfAsync(http);
        using (var bytes = await SearchAsync(http, csrf, "bulk", "{\"field\":\"value\",\"query\":\"absent\",\"bytesMax\":1}"))
        {
            var search = bytes.RootElement;
            Assert.Equal("done", search.GetProperty("state").GetString());
            Assert.Equal("stopped at the limit of 1 bytes scanned", search.GetProperty("stopReason").GetString());
            Assert.InRange(search.GetProperty("recordsScanned").GetInt64(), 1, 99); // one read of partition 0's 100 records, stopped at the next
            Assert.True(search.GetProperty("bytesScanned").GetInt64() < search.GetProperty("bytesToScan").GetInt64());
        }

        using var results = await SearchAsync(http, csrf, "bulk", "{\"field\":\"value\",\"query\":\"bulk record\",\"resultsMax\":2}");
        Assert.Equal("stopped at 2 matches", results.RootElement.GetProperty("stopReason").GetString());
        Assert.Equal([0L, 1L], results.RootElement.GetProperty("matches").EnumerateArray().Select(m => m.GetProperty("offset").GetInt64()));
    }

    [Fact]
    public async Task Browsing_by_timestamp_and_through_compressed_batches()
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        Assert.Equal([1L, 2L], await OffsetsAsync(http, "/console/api/topics/timed/messages?timestamp=2000&order=oldest"));
        Assert.Equal([0L], await OffsetsAsync(http, "/console/api/topics/timed/messages?timestamp=2000&order=newest"));
        Assert.Equal([2L, 1L, 0L], await OffsetsAsync(http, "/console/api/topics/timed/messages"));
        Assert.Equal([2L, 1L], await OffsetsAsync(http, "/console/api/topics/timed/messages?limit=2"));

        using var zipped = JsonDocument.Parse(await http.GetStringAsync("/console/api/topics/zipped/messages?order=oldest"));
        var values = zipped.RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("value").GetProperty("text").GetString()).ToList();
        Assert.Equal(["{\"zipped\":0}", "{\"zipped\":1}", "{\"zipped\":2}"], values);
    }

    [Fact]
    public async Task A_change_without_the_csrf_header_is_refused()
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        using var content = new StringContent("{\"name\":\"csrf-topic\",\"partitions\":1}", Encoding.UTF8, "application/json");
        var response = await http.PostAsync("/console/api/topics", content);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Null(fixture.Broker.Core.Metadata.Find("csrf-topic"));
    }

    /// <summary>Starts a search and polls it until it ends (the gate is open, so it runs to one of its limits).</summary>
    private static async Task<JsonDocument> SearchAsync(HttpClient http, string csrf, string topic, string body)
    {
        using var content = Json(body, csrf);
        var started = await http.PostAsync($"/console/api/topics/{topic}/search", content);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        using var id = JsonDocument.Parse(await started.Content.ReadAsStringAsync());
        for (var poll = 0; poll < 600; poll++)
        {
            var search = JsonDocument.Parse(await http.GetStringAsync("/console/api/searches/" + id.RootElement.GetProperty("id").GetString()));
            if (search.RootElement.GetProperty("state").GetString() != "running")
            {
                return search;
            }

            search.Dispose();
            await Task.Delay(50);
        }

        throw new TimeoutException("the search did not end");
    }

    private static async Task<List<long>> OffsetsAsync(HttpClient http, string url)
    {
        using var page = JsonDocument.Parse(await http.GetStringAsync(url));
        return [.. page.RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("offset").GetInt64())];
    }

    private static async Task<string> CsrfAsync(HttpClient http)
    {
        using var session = JsonDocument.Parse(await http.GetStringAsync("/console/api/session"));
        return session.RootElement.GetProperty("csrfToken").GetString()!;
    }

    private static StringContent Json(string body, string csrf)
    {
        var content = new StringContent(body, Encoding.UTF8, "application/json");
        content.Headers.Add("X-Console-Csrf", csrf);
        return content;
    }

    private static async Task<string> ErrorAsync(HttpResponseMessage response)
    {
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("error").GetString()!;
    }
}
