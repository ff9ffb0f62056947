using System.Globalization;
using System.Text;

namespace Tributary.Broker.Config;

/// <summary>
/// The README's configuration reference, generated from <see cref="ConfigTable"/>: one Markdown table of broker keys,
/// one of topic keys. The README holds it between <see cref="BeginMarker"/> and <see cref="EndMarker"/>; a test
/// fails when the two differ.
/// </summary>
public static class ConfigReference
{
    public const string BeginMarker = "<!-- BEGIN config-reference (generated from ConfigTable; do not edit by hand) -->";
    public const string EndMarker = "<!-- END config-reference -->";

    public static string Markdown()
    {
        var text = new StringBuilder();
        text.Append("Broker keys (properties file, environment, `--set`; read once at start, except the dynamic ones, which ");
        text.Append("IncrementalAlterConfigs and AlterConfigs on a BROKER resource change at runtime and the metadata store keeps):\n\n");
        text.Append("| Key | Default | Values | Description |\n|---|---|---|---|\n");
        foreach (var key in ConfigTable.BrokerKeys)
        {
            var description = key.SynonymOf is { } of
                ? $"{key.Documentation} Synonym of `{of}`{(key.UnitScale == 1 ? "" : $" (× {key.UnitScale.ToString(CultureInfo.InvariantCulture)})")}."
                : key.Documentation;
            description += key.Dynamic ? " Dynamic." : "";
            text.Append(CultureInfo.InvariantCulture, $"| `{key.Name}` | {Default(key)} | {Values(key)} | {Cell(description)} |\n");
        }

        text.Append("\nTopic keys (CreateTopics, AlterConfigs, IncrementalAlterConfigs; change at runtime). Without an override a topic ");
        text.Append("takes its broker key's value, converted to the topic key's units:\n\n");
        text.Append("| Key | Default | Broker key | Values | Description |\n|---|---|---|---|---|\n");
        foreach (var key in ConfigTable.TopicKeys)
        {
            var brokerKey = key.BrokerKey is { } b ? $"`{b}`" : "";
            text.Append(CultureInfo.InvariantCulture, $"| `{key.Name}` | {Default(key)} | {brokerKey} | {Values(key)} | {Cell(key.Documentation)} |\n");
        }

        text.Append("\nGroup keys (IncrementalAlterConfigs on a GROUP resource; change at runtime). Without an override a group ");
        text.Append("takes its broker key's value:\n\n");
        text.Append("| Key | Default | Broker key | Values | Description |\n|---|---|---|---|---|\n");
        foreach (var key in ConfigTable.GroupKeys)
        {
            text.Append(CultureInfo.InvariantCulture, $"| `{key.Name}` | {Default(key)} | `{key.BrokerKey}` | {Values(key)} | {Cell(key.Documentation)} |\n");
        }

        return text.ToString();
    }

    /// <summary>Replaces the generated section of a README's text; throws when its markers are missing.</summary>
    public static string ReplaceSection(string readme)
    {
        var begin = readme.IndexOf(BeginMarker, StringComparison.Ordinal);
        var end = readme.IndexOf(EndMarker, StringComparison.Ordinal);
        if (begin < 0 || end < begin)
        {
            throw new InvalidDataException($"the README has no section between '{BeginMarker}' and '{EndMarker}'");
        }

        return readme[..(begin + BeginMarker.Length)] + "\n" + Markdown() + readme[end..];
    }

    private static string Default(ConfigDefinition key) => key.Default switch
    {
        null => "",
        "" => "(empty)",
        var value => $"`{value}`",
    };

    private static string Values(ConfigDefinition key) => key switch
    {
        { Allowed: { } allowed } => string.Join(", ", allowed.Select(a => $"`{a}`")),
        { Type: ConfigType.Boolean } => "`true`, `false`",
        { Min: long.MinValue, Max: long.MaxValue } => "",
        { Max: long.MaxValue } => $"≥ {key.Min.ToString(CultureInfo.InvariantCulture)}",
        _ => $"{key.Min.ToString(CultureInfo.InvariantCulture)} … {key.Max.ToString(CultureInfo.InvariantCulture)}",
    };

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);
}
