using System.Text;
using System.Text.Json;

namespace Tributary.LoadRunner;

/// <summary>The figures of one run, written as one JSON object on one line, in the order they were added.</summary>
internal sealed class RunReport
{
    private readonly List<(string Name, object? Value)> _fields = [];

    /// <summary>When the producers started (monotonic), for timing consumers that only wait for them.</summary>
    public long ProducerStartNanos { get; set; }

    public RunReport Add(string name, object? value)
    {
        _fields.Add((name, value));
        return this;
    }

    public RunReport AddLatency(string prefix, LatencyHistogram histogram)
    {
        Add(prefix + "_count", histogram.Count);
        Add(prefix + "_p50_ms", Round(histogram.QuantileMs(0.50)));
        Add(prefix + "_p99_ms", Round(histogram.QuantileMs(0.99)));
        Add(prefix + "_p999_ms", Round(histogram.QuantileMs(0.999)));
        Add(prefix + "_max_ms", histogram.Count == 0 ? null : Round(histogram.MaxNanos / 1e6));
        return this;
    }

    public string ToJsonLine()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in _fields)
            {
                switch (value)
                {
                    case null:
                        writer.WriteNull(name);
                        break;
                    case string s:
                        writer.WriteString(name, s);
                        break;
                    case bool b:
                        writer.WriteBoolean(name, b);
                        break;
                    case int i:
                        writer.WriteNumber(name, i);
                        break;
                    case long l:
                        writer.WriteNumber(name, l);
                        break;
                    case double d:
                        writer.WriteNumber(name, d);
                        break;
                    default:
                        writer.WriteString(name, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                        break;
                }
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public static double? Round(double? value, int digits = 3) => value is { } v ? Math.Round(v, digits) : null;
}
