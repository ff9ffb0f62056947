using System.Diagnostics;
using System.Globalization;

namespace Tributary.LoadRunner;

/// <summary>
/// The Kafka modes: produce (producers only), consume (read what the log holds), pipeline (producers and tail
/// consumers at once, for end-to-end latency). Counts what was acknowledged or read, never what was merely sent.
/// </summary>
internal static class KafkaLoad
{
    public static RunReport Run(LoadOptions options)
    {
        // Opened before the run, so a path that cannot be written fails at once instead of losing the run's report.
        using var requestLog = options.RequestLog.Length > 0 ? OpenRequestLog(options.RequestLog) : null;
        if (options.Mode != "consume")
        {
            TopicAdmin.CreateTopic(options);
        }

        var report = new RunReport()
            .Add("label", options.Label)
            .Add("system", "tributary")
            .Add("mode", options.Mode)
            .Add("record_bytes", options.RecordBytes)
            .Add("partitions", options.Partitions)
            .Add("producers", options.Producers)
            .Add("consumers", options.Consumers)
            .Add("batch_bytes", options.BatchBytes)
            .Add("linger_ms", options.LingerMs)
            .Add("in_flight", options.InFlightMax)
            .Add("acks", (int)options.Acks)
            .Add("rate_target", options.RatePerSecond)
            .Add("fetch_max_bytes", options.FetchBytesMax);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var gcPauseBefore = GC.GetTotalPauseDuration();
        var gen2Before = GC.CollectionCount(2);
        switch (options.Mode)
        {
            case "produce":
                RunProducers(options, report, requestLog);
                break;
            case "consume":
                RunConsumeOnly(options, report);
                break;
            default:
                RunPipeline(options, report, requestLog);
                break;
        }

        report.Add("client_cpu_s", RunReport.Round((Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds))
            .Add("client_gc_pause_ms", RunReport.Round((GC.GetTotalPauseDuration() - gcPauseBefore).TotalMilliseconds))
            .Add("client_gen2_gcs", GC.CollectionCount(2) - gen2Before);
        return report;
    }

    private static void RunConsumeOnly(LoadOptions options, RunReport report)
    {
        var end = TopicAdmin.EndOffsets(options);
        var start = options.FromTail ? end : new long[options.Partitions];
        var goal = new ConsumeGoal { Target = end.Sum() - start.Sum() };
        var startNanos = MonotonicClock.NowNanos();
        var deadline = startNanos + (options.TimeLimitSeconds * 1_000_000_000L);
        var consumers = StartConsumers(options, start, goal, deadline, recordEndToEnd: false);
        foreach (var consumer in consumers)
        {
            consumer.Stop();
        }

        ReportConsumers(report, consumers, goal, startNanos, includeLatency: false);
    }

    private static void RunPipeline(LoadOptions options, RunReport report, StreamWriter? requestLog)
    {
        var start = options.FromTail ? TopicAdmin.EndOffsets(options) : new long[options.Partitions];
        var goal = new ConsumeGoal();
        var consumers = StartConsumers(options, start, goal, MonotonicClock.NowNanos() + ((options.TimeLimitSeconds + 10) * 1_000_000_000L), recordEndToEnd: true);
        RunProducers(options, report, requestLog, goal);
        var end = TopicAdmin.EndOffsets(options);
        goal.Target = end.Sum() - start.Sum();
        goal.CheckReached(MonotonicClock.NowNanos());
        foreach (var consumer in consumers)
        {
            consumer.Stop();
        }

        // Consumption is timed from the producers' start, since the consumers only ever wait for them.
        ReportConsumers(report, consumers, goal, report.ProducerStartNanos, includeLatency: true);
    }

    private static List<ConsumerWorker> StartConsumers(LoadOptions options, long[] start, ConsumeGoal goal, long deadlineNanos, bool recordEndToEnd)
    {
        var consumers = Enumerable.Range(0, options.Consumers)
            .Select(i => new ConsumerWorker(options, i, start, goal, deadlineNanos, recordEndToEnd))
            .ToList();
        foreach (var consumer in consumers)
        {
            consumer.Start();
        }

        return consumers;
    }

    private static void RunProducers(LoadOptions options, RunReport report, StreamWriter? requestLog, ConsumeGoal? goal = null)
    {
        var startNanos = MonotonicClock.NowNanos();
        goal?.LatencyFromNanos = startNanos + options.WarmupNanos;
        var wallStartMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var deadline = startNanos + (options.TimeLimitSeconds * 1_000_000_000L);
        var producers = Enumerable.Range(0, options.Producers)
            .Select(i => new ProducerWorker(
                options,
                i,
                (options.RecordCount / options.Producers) + (i < options.RecordCount % options.Producers ? 1 : 0),
                (double)options.RatePerSecond / options.Producers,
                startNanos,
                deadline,
                wallStartMs))
            .ToList();
        report.ProducerStartNanos = startNanos;
        foreach (var producer in producers)
        {
            producer.Start();
        }

        foreach (var producer in producers)
        {
            producer.Stop();
        }

        var latency = new LatencyHistogram();
        foreach (var producer in producers)
        {
            latency.Add(producer.BatchLatency);
        }

        var acked = producers.Sum(p => p.RecordsAcked);
        var endNanos = producers.Max(p => p.LastAckNanos);
        var seconds = Math.Max(endNanos - startNanos, 1) / 1e9;
        var batches = producers.Sum(p => p.BatchesSent);
        if (requestLog is not null)
        {
            WriteRequestLog(requestLog, producers);
        }

        report
            .Add("records", acked)
            .Add("records_failed", producers.Sum(p => p.RecordsFailed))
            .Add("seconds", RunReport.Round(seconds))
            .Add("records_per_s", Math.Round(acked / seconds))
            .Add("MB_per_s", RunReport.Round(acked * (double)options.RecordBytes / seconds / 1e6, 1))
            .Add("wire_MB_per_s", RunReport.Round(producers.Sum(p => p.RequestBytesSent) / seconds / 1e6, 1))
            .Add("batches", batches)
            .Add("records_per_batch", batches == 0 ? null : RunReport.Round((double)producers.Sum(p => p.RecordsSent) / batches, 1))
            .Add("warmup_s", options.WarmupSeconds)
            .AddLatency("produce", latency)
            .Add("request_log_dropped", requestLog is null ? null : producers.Sum(p => p.RequestLogDropped))
            .Add("stopped_by_time", producers.Any(p => p.StoppedByTime))
            .Add("produce_incomplete", producers.Any(p => p.Incomplete))
            .Add("produce_error", producers.Select(p => p.Failure).FirstOrDefault(f => f is not null));
    }

    private static void ReportConsumers(RunReport report, List<ConsumerWorker> consumers, ConsumeGoal goal, long startNanos, bool includeLatency)
    {
        var endNanos = goal.ReachedNanos != 0 ? goal.ReachedNanos : MonotonicClock.NowNanos();
        var seconds = Math.Max(endNanos - startNanos, 1) / 1e9;
        var records = consumers.Sum(c => c.RecordsConsumed);
        report
            .Add("consumed_records", records)
            .Add("consume_target", goal.Target)
            .Add("consume_seconds", RunReport.Round(seconds))
            .Add("consume_records_per_s", Math.Round(records / seconds))
            .Add("consume_MB_per_s", RunReport.Round(consumers.Sum(c => c.ValueBytesConsumed) / seconds / 1e6, 1))
            .Add("consume_wire_MB_per_s", RunReport.Round(consumers.Sum(c => c.ResponseBytes) / seconds / 1e6, 1))
            .Add("fetches", consumers.Sum(c => c.Fetches))
            .Add("consume_timed_out", !goal.IsReached)
            .Add("consume_error", consumers.Select(c => c.Failure).FirstOrDefault(f => f is not null));
        if (includeLatency)
        {
            var latency = new LatencyHistogram();
            foreach (var consumer in consumers)
            {
                latency.Add(consumer.EndToEndLatency);
            }

            report.AddLatency("e2e", latency);
        }
    }

    private static StreamWriter OpenRequestLog(string path)
    {
        try
        {
            return new StreamWriter(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"--request-log {path}: {e.Message}", e);
        }
    }

    /// <summary>Writes every producer's recorded requests, in send order.</summary>
    private static void WriteRequestLog(StreamWriter writer, List<ProducerWorker> producers)
    {
        foreach (var (sendNanos, latencyNanos) in producers.SelectMany(p => p.RequestLog!).OrderBy(e => e.SendNanos))
        {
            writer.Write(sendNanos.ToString(CultureInfo.InvariantCulture));
            writer.Write(' ');
            writer.WriteLine(latencyNanos.ToString(CultureInfo.InvariantCulture));
        }

        writer.Flush();
    }
}
