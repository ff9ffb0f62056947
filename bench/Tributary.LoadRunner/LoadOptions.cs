using System.Globalization;

namespace Tributary.LoadRunner;

/// <summary>
/// Everything one run of the load runner is told on its command line (<c>--name value</c> pairs). Every run is
/// bounded twice: by a record count and by a time limit, so it stops by itself whatever the broker does.
/// </summary>
internal sealed class LoadOptions
{
    /// <summary>produce | consume | pipeline (produce and tail-consume at once) | jetstream (NATS JetStream async publish).</summary>
    public string Mode { get; private init; } = "produce";

    /// <summary>host:port; only loopback addresses are accepted.</summary>
    public string Bootstrap { get; private init; } = "127.0.0.1:9092";

    public string Topic { get; private init; } = "load";

    public int Partitions { get; private init; } = 4;

    public int Producers { get; private init; } = 1;

    public int Consumers { get; private init; } = 1;

    public int RecordBytes { get; private init; } = 1000;

    public long RecordCount { get; private init; } = 1_000_000;

    public int TimeLimitSeconds { get; private init; } = 20;

    /// <summary>
    /// Latencies (produce and end-to-end) of what is sent in this many first seconds after the producers start are
    /// not recorded: connection set-up and just-in-time compilation in the client and broker, not the steady state.
    /// Throughput still counts the whole run.
    /// </summary>
    public double WarmupSeconds { get; private init; } = 1;

    public long WarmupNanos => (long)(WarmupSeconds * 1e9);

    /// <summary>Records per second over all producers; 0 means as fast as possible (mode "max").</summary>
    public long RatePerSecond { get; private init; }

    public int BatchBytes { get; private init; } = 128 * 1024;

    public double LingerMs { get; private init; } = 5;

    public int InFlightMax { get; private init; } = 5;

    public short Acks { get; private init; } = 1;

    public int FetchBytesMax { get; private init; } = 8 * 1024 * 1024;

    public int FetchWaitMs { get; private init; } = 100;

    /// <summary>Consumers start at offset 0 (earliest) or at the log end (latest).</summary>
    public bool FromTail { get; private init; }

    /// <summary>Free text copied into the JSON line so a script can tell its runs apart.</summary>
    public string Label { get; private init; } = "";

    /// <summary>JetStream: unacknowledged messages allowed before the publisher waits.</summary>
    public int Window { get; private init; } = 4000;

    /// <summary>
    /// Kafka modes: a file to write each recorded produce request to, one line per request: its send time on
    /// <see cref="MonotonicClock"/> and its latency, both in nanoseconds. Empty: no log.
    /// </summary>
    public string RequestLog { get; private init; } = "";

    public static LoadOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected --name value, got '{args[i]}'");
            }

            values[args[i][2..]] = args[++i];
        }

        string S(string name, string fallback) => values.Remove(name, out var v) ? v : fallback;
        long L(string name, long fallback) => values.Remove(name, out var v) ? long.Parse(v, CultureInfo.InvariantCulture) : fallback;
        double D(string name, double fallback) => values.Remove(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

        var options = new LoadOptions
        {
            Mode = S("mode", "produce"),
            Bootstrap = S("bootstrap", "127.0.0.1:9092"),
            Topic = S("topic", "load"),
            Partitions = (int)L("partitions", 4),
            Producers = (int)L("producers", 1),
            Consumers = (int)L("consumers", 1),
            RecordBytes = (int)L("record-bytes", 1000),
            RecordCount = L("records", 1_000_000),
            TimeLimitSeconds = (int)L("time-limit-s", 20),
            WarmupSeconds = D("warmup-s", 1),
            RatePerSecond = L("rate", 0),
            BatchBytes = (int)L("batch-bytes", 128 * 1024),
            LingerMs = D("linger-ms", 5),
            InFlightMax = (int)L("in-flight", 5),
            Acks = (short)L("acks", 1),
            FetchBytesMax = (int)L("fetch-max-bytes", 8 * 1024 * 1024),
            FetchWaitMs = (int)L("fetch-wait-ms", 100),
            FromTail = S("from", "earliest") == "latest",
            Label = S("label", ""),
            Window = (int)L("window", 4000),
            RequestLog = S("request-log", ""),
        };
        if (values.Count > 0)
        {
            throw new ArgumentException($"unknown option(s): {string.Join(", ", values.Keys.Select(k => "--" + k))}");
        }

        options.Validate();
        return options;
    }

    private void Validate()
    {
        string[] modes = ["produce", "consume", "pipeline", "jetstream"];
        if (!modes.Contains(Mode))
        {
            throw new ArgumentException($"--mode must be one of {string.Join(", ", modes)}");
        }

        var host = Bootstrap[..Bootstrap.LastIndexOf(':')];
        if (!host.StartsWith("127.", StringComparison.Ordinal))
        {
            throw new ArgumentException($"refusing non-loopback address {Bootstrap}: load runs stay on 127.0.0.1");
        }

        // The value carries an 8-byte send timestamp for end-to-end latency.
        ArgumentOutOfRangeException.ThrowIfLessThan(RecordBytes, 8);
        ArgumentOutOfRangeException.ThrowIfLessThan(Partitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Producers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Consumers, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Consumers, Partitions);
        ArgumentOutOfRangeException.ThrowIfLessThan(RecordCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(TimeLimitSeconds, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(TimeLimitSeconds, 600);
        ArgumentOutOfRangeException.ThrowIfLessThan(WarmupSeconds, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(WarmupSeconds, TimeLimitSeconds);
        ArgumentOutOfRangeException.ThrowIfLessThan(InFlightMax, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchBytes, RecordBytes + 100);
        ArgumentOutOfRangeException.ThrowIfLessThan(Window, 1);
        if (RequestLog.Length > 0 && Mode is not ("produce" or "pipeline"))
        {
            throw new ArgumentException("--request-log logs produce requests: only with --mode produce or pipeline");
        }
        if (Acks is not (0 or 1 or -1))
        {
            throw new ArgumentException("--acks must be 0, 1 or -1");
        }
    }

    public int Port => int.Parse(Bootstrap[(Bootstrap.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);

    public string Host => Bootstrap[..Bootstrap.LastIndexOf(':')];
}
