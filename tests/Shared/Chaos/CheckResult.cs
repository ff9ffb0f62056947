namespace Tributary.Tests.Shared.Chaos;

/// <summary>The checker's verdict: the anomalies found (none: valid) and what was checked.</summary>
public sealed record CheckResult(
    IReadOnlyList<Anomaly> Anomalies,
    int Acknowledged,
    int Failed,
    int Unknown,
    int UnknownPresent,
    int Reads,
    int Commits,
    int FinalRecords)
{
    private const int ListedAnomaliesMax = 20;

    public bool Valid => Anomalies.Count == 0;

    public string Summary()
    {
        var counts = $"{Acknowledged} acknowledged, {Failed} failed, {Unknown} unknown ({UnknownPresent} present), {Reads} reads, {Commits} commits, {FinalRecords} records in the final log";
        if (Valid)
        {
            return "valid: " + counts;
        }

        var byKind = string.Join(", ", Anomalies.GroupBy(a => a.Kind).Select(g => $"{g.Count()} {g.Key}"));
        var listed = string.Join("\n  ", Anomalies.Take(ListedAnomaliesMax));
        return $"INVALID ({byKind}): {counts}\n  {listed}";
    }
}
