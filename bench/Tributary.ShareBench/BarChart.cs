using System.Globalization;
using System.Net;
using System.Text;

namespace Tributary.ShareBench;

/// <summary>A horizontal bar chart of the runs as a self-contained SVG: one bar per run, classic and share coloured apart.</summary>
internal static class BarChart
{
    private const int LabelWidth = 190;
    private const int BarWidthMax = 520;
    private const int RowHeight = 34;
    private const int Top = 50;

    public static string Render(IReadOnlyList<RunResult> results)
    {
        var rateMax = Math.Max(1, results.Max(r => r.RecordsPerSecond));
        var height = Top + (results.Count * RowHeight) + 30;
        var width = LabelWidth + BarWidthMax + 110;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"13\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        svg.Append("<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Records/s from a 2-partition topic, 1 ms of processing per record</text>\n");
        svg.Append("<text x=\"10\" y=\"40\" fill=\"#555\">classic group (Confluent.Kafka) vs share group (librdkafka share consumer), same broker and run</text>\n");
        for (var i = 0; i < results.Count; i++)
        {
            var r = results[i];
            var y = Top + (i * RowHeight);
            var bar = (int)Math.Round(BarWidthMax * r.RecordsPerSecond / rateMax);
            var colour = r.Kind == "share" ? "#2b7bb9" : "#d9822b";
            var label = WebUtility.HtmlEncode($"{r.Kind}, {r.Consumers} consumer{(r.Consumers == 1 ? "" : "s")} ({r.ActiveConsumers} busy)");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"10\" y=\"{y + 18}\">{label}</text>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{LabelWidth}\" y=\"{y + 4}\" width=\"{bar}\" height=\"{RowHeight - 10}\" fill=\"{colour}\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{LabelWidth + bar + 6}\" y=\"{y + 18}\">{r.RecordsPerSecond:N0}</text>\n");
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }
}
