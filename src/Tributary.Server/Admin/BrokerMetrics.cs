using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Tributary.Broker;
using Tributary.Broker.Metadata;
using Tributary.Protocol;

namespace Tributary.Server.Admin;

/// <summary>
/// The meter <c>Tributary.Broker</c>: observable instruments under Kafka's JMX names (lower case, dotted), read from
/// each broker with an admin listener when /metrics is scraped. They read what the broker already holds in memory
/// (offsets, segment sizes, the traffic and error counters its handlers add to), never the disk. The meter is one per
/// process; several brokers in one process (tests) report together, so a topic name two of them share would show twice.
/// </summary>
internal static class BrokerMetrics
{
    public const string MeterName = "Tributary.Broker";

    /// <summary>
    /// Series of kafka.consumergroup.lag at most per scrape: each group's committed partitions, groups in the order the
    /// coordinator lists them; beyond it, partitions are left out (a broker with a million committed partitions must
    /// not turn one scrape into a million series).
    /// </summary>
    public const int ConsumerGroupLagSeriesMax = 10_000;

    private static readonly Meter Meter = new(MeterName);
    private static readonly ConcurrentDictionary<TributaryBroker, bool> Brokers = new();

    static BrokerMetrics()
    {
        Meter.CreateObservableCounter("kafka.server.brokertopicmetrics.bytes_in", () => PerTopic(static l => l.Traffic.BytesIn),
            description: "Record-batch bytes produce requests appended, per topic (Kafka's BytesInPerSec)");
        Meter.CreateObservableCounter("kafka.server.brokertopicmetrics.messages_in", () => PerTopic(static l => l.Traffic.RecordsIn),
            description: "Records produce requests appended, per topic (Kafka's MessagesInPerSec)");
        Meter.CreateObservableCounter("kafka.server.brokertopicmetrics.bytes_out", () => PerTopic(static l => l.Traffic.BytesOut),
            description: "Record-batch bytes fetch responses carried, per topic (Kafka's BytesOutPerSec)");
        Meter.CreateObservableGauge("kafka.log.log.size", () => PerPartition(static l => l.SizeBytes),
            description: "Bytes of a partition's log segments (Kafka's kafka.log:type=Log,name=Size)");
        Meter.CreateObservableGauge("kafka.log.log.log_end_offset", () => PerPartition(static l => l.LogEndOffset),
            description: "The offset the partition's next record gets (Kafka's LogEndOffset)");
        Meter.CreateObservableGauge("kafka.log.log.log_start_offset", () => PerPartition(static l => l.LogStartOffset),
            description: "The first offset a consumer may fetch (Kafka's LogStartOffset)");
        Meter.CreateObservableGauge("kafka.server.replicamanager.partition_count", () => PerBroker(static c => Partitions(c).Count()),
            description: "Partitions this broker holds (Kafka's PartitionCount)");
        Meter.CreateObservableGauge("kafka.server.replicamanager.under_replicated_partitions", () => PerBroker(static _ => 0),
            description: "Partitions with fewer in-sync replicas than replicas: always 0, Tributary has one replica per partition");
        Meter.CreateObservableGauge("kafka.controller.kafkacontroller.offline_partitions_count",
            () => PerBroker(static c => Partitions(c).Count(p => c.IsUnavailable(p.Topic, p.Partition))),
            description: "Partitions without a readable log (a log that failed to open), Kafka's OfflinePartitionsCount");
        Meter.CreateObservableGauge("kafka.consumergroup.lag", ConsumerGroupLag,
            description: $"High watermark minus the group's committed offset, per group and partition (at most {ConsumerGroupLagSeriesMax} series)");
        Meter.CreateObservableCounter("kafka.network.requestmetrics.errors", Errors,
            description: "Error codes answered, per API and code (Kafka's ErrorsPerSec); Produce, Fetch and the dispatcher's own error answers");
    }

    public static void Register(TributaryBroker broker) => Brokers[broker] = true;

    public static void Unregister(TributaryBroker broker) => Brokers.TryRemove(broker, out _);

    private static IEnumerable<BrokerCore> Cores()
    {
        foreach (var broker in Brokers.Keys)
        {
            if (broker.NotReadyReason is null && broker.CoreOrNull is { } core)
            {
                yield return core;
            }
        }
    }

    private static IEnumerable<(TopicInfo Topic, int Partition)> Partitions(BrokerCore core) =>
        core.Metadata.Topics.SelectMany(t => Enumerable.Range(0, t.PartitionCount).Select(p => (t, p)));

    private static IEnumerable<Measurement<long>> PerBroker(Func<BrokerCore, long> read)
    {
        foreach (var core in Cores())
        {
            yield return new Measurement<long>(read(core), new KeyValuePair<string, object?>("broker", core.Config.NodeId));
        }
    }

    private static IEnumerable<Measurement<long>> PerTopic(Func<Storage.PartitionLog, long> read)
    {
        foreach (var core in Cores())
        {
            foreach (var topic in core.Metadata.Topics)
            {
                long sum = 0;
                for (var p = 0; p < topic.PartitionCount; p++)
                {
                    if (core.FindLog(topic, p) is { } log)
                    {
                        sum += read(log);
                    }
                }

                yield return new Measurement<long>(sum, new KeyValuePair<string, object?>("topic", topic.Name));
            }
        }
    }

    private static IEnumerable<Measurement<long>> PerPartition(Func<Storage.PartitionLog, long> read)
    {
        foreach (var core in Cores())
        {
            foreach (var (topic, partition) in Partitions(core))
            {
                if (core.FindLog(topic, partition) is { } log)
                {
                    yield return new Measurement<long>(read(log),
                        new KeyValuePair<string, object?>("topic", topic.Name), new KeyValuePair<string, object?>("partition", partition));
                }
            }
        }
    }

    private static IEnumerable<Measurement<long>> ConsumerGroupLag()
    {
        var series = 0;
        foreach (var core in Cores())
        {
            var groups = core.Groups.ListGroups().Select(g => g.GroupId).Concat(core.Groups.ListConsumerGroups().Select(g => g.GroupId)).Distinct();
            foreach (var group in groups)
            {
                foreach (var ((topicName, partition), committed) in core.Groups.FetchOffsets(group))
                {
                    if (series >= ConsumerGroupLagSeriesMax)
                    {
                        yield break;
                    }

                    if (core.Metadata.Find(topicName) is { } topic && core.FindLog(topic, partition) is { } log)
                    {
                        series++;
                        yield return new Measurement<long>(Math.Max(0, log.HighWatermark - committed.Offset),
                            new KeyValuePair<string, object?>("group", group), new KeyValuePair<string, object?>("topic", topicName),
                            new KeyValuePair<string, object?>("partition", partition));
                    }
                }
            }
        }
    }

    private static IEnumerable<Measurement<long>> Errors()
    {
        foreach (var core in Cores())
        {
            foreach (var (api, error, count) in core.RequestErrors.NonZero())
            {
                yield return new Measurement<long>(count, new KeyValuePair<string, object?>("request", api.ToString()),
                    new KeyValuePair<string, object?>("error", ErrorName(error)));
            }
        }
    }

    // Kafka's error names (UNKNOWN_TOPIC_OR_PARTITION) from the generated enum's (UnknownTopicOrPartition).
    private static string ErrorName(ErrorCode error) =>
        Enum.IsDefined(error) ? string.Concat(error.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : char.ToUpperInvariant(c).ToString())) : ((short)error).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
