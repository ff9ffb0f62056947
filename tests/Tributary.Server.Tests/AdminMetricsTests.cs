using System.Globalization;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Server.Tests;

/// <summary>
/// /metrics of an embedded broker's admin listener, scraped as Prometheus would and parsed: after real produce,
/// fetch and commit requests, the series an operator reads show them.
/// </summary>
public sealed class AdminMetricsTests
{
    [Fact]
    public async Task AScrapeShowsTrafficRequestsLogSizeOffsetsLagAndErrors()
    {
        var topic = "metered-" + Guid.NewGuid().ToString("N")[..8];
        var group = "lagging-" + Guid.NewGuid().ToString("N")[..8];
        var options = new TributaryBrokerOptions();
        options.Config["tributary.admin.listeners"] = "http://127.0.0.1:0";
        options.Topics[topic] = 2;
        await using var broker = await TributaryBroker.StartAsync(options);
        using var http = new HttpClient { BaseAddress = broker.AdminAddresses[0] };
        await using var client = await KafkaWireClient.ConnectAsync(broker.BootstrapServers);

        var producedBytes = 0L;
        for (var i = 0; i < 3; i++)
        {
            var produced = await WireRoundTrip.ProduceAsync(client, topic, 1, "value " + i.ToString(CultureInfo.InvariantCulture));
            Assert.Equal(0, produced.Responses[0].PartitionResponses[0].ErrorCode);
        }

        var log = broker.Core.FindLog(broker.Core.Metadata.Find(topic)!, 1)!;
        producedBytes = log.SizeBytes;
        Assert.Equal(3, (await WireRoundTrip.FetchValuesAsync(client, topic, 1, 0)).Count);

        // A fetch of a partition the topic does not have: an error answered to Fetch.
        var missing = await client.SendAsync<FetchRequest, FetchResponse>(ApiKey.Fetch, 12, WireRoundTrip.Fetch(topic, 7, 0, maxWaitMs: 0));
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, missing.Responses[0].Partitions[0].ErrorCode);

        // A standalone commit (no members) of offset 1: lag 2 behind the high watermark of 3.
        var committed = await client.SendAsync<OffsetCommitRequest, OffsetCommitResponse>(ApiKey.OffsetCommit, 8, new OffsetCommitRequest
        {
            GroupId = group,
            GenerationIdOrMemberEpoch = -1,
            MemberId = "",
            Topics = [new OffsetCommitRequest.OffsetCommitRequestTopic { Name = topic, Partitions = [new() { PartitionIndex = 1, CommittedOffset = 1 }] }],
        });
        Assert.Equal(0, committed.Topics[0].Partitions[0].ErrorCode);

        var scrape = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        Assert.True(Value(scrape, "kafka_server_brokertopicmetrics_bytes_in_total", ("topic", topic)) >= producedBytes, scrape);
        Assert.Equal(3, Value(scrape, "kafka_server_brokertopicmetrics_messages_in_total", ("topic", topic)));
        Assert.Equal(producedBytes, Value(scrape, "kafka_server_brokertopicmetrics_bytes_out_total", ("topic", topic)));
        Assert.Equal(log.SizeBytes, Value(scrape, "kafka_log_log_size", ("topic", topic), ("partition", "1")));
        Assert.Equal(0, Value(scrape, "kafka_log_log_size", ("topic", topic), ("partition", "0")));
        Assert.Equal(3, Value(scrape, "kafka_log_log_log_end_offset", ("topic", topic), ("partition", "1")));
        Assert.Equal(2, Value(scrape, "kafka_consumergroup_lag", ("group", group), ("topic", topic), ("partition", "1")));
        Assert.True(Value(scrape, "kafka_network_requestmetrics_errors_total", ("request", "Fetch"), ("error", "UNKNOWN_TOPIC_OR_PARTITION")) >= 1);
        Assert.True(Value(scrape, "tributary_request_duration_seconds_count", ("kafka_api", "Produce"), ("network_local_port", broker.Port.ToString(CultureInfo.InvariantCulture))) >= 3);
        Assert.True(Value(scrape, "kafka_server_socket_server_metrics_connection_count", ("listener", "PLAINTEXT")) >= 1);
        Assert.Equal(0, Value(scrape, "kafka_server_replicamanager_under_replicated_partitions", ("broker", "0")));
        Assert.Contains("dotnet_gc_", scrape, StringComparison.Ordinal);
        Assert.Contains("dotnet_thread_pool_", scrape, StringComparison.Ordinal);
    }

    /// <summary>The value of the one sample of <paramref name="metric"/> carrying every label of <paramref name="labels"/>.</summary>
    private static double Value(string scrape, string metric, params (string Name, string Value)[] labels)
    {
        var samples = scrape.Split('\n')
            .Where(line => line.StartsWith(metric + "{", StringComparison.Ordinal) || line.StartsWith(metric + " ", StringComparison.Ordinal))
            .Where(line => labels.All(l => line.Contains($"{l.Name}=\"{l.Value}\"", StringComparison.Ordinal)))
            .ToList();
        var sample = Assert.Single(samples);
        var value = sample[(sample.LastIndexOf('}') + 1)..].Trim().Split(' ')[0];
        return double.Parse(value, CultureInfo.InvariantCulture);
    }
}
