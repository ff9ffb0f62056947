using System.Text.Json.Serialization;

namespace Tributary.Cli.Commands;

/// <summary>
/// One line of <c>consume --output json</c>. Keys, values and header values are UTF-8 text when they decode as UTF-8,
/// else base64 with <c>keyEncoding</c>/<c>valueEncoding</c> set to "base64"; null stays null.
/// </summary>
internal sealed record ConsumedRecordJson(
    string Topic,
    int Partition,
    long Offset,
    long Timestamp,
    string? Key,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? KeyEncoding,
    string? Value,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ValueEncoding,
    IReadOnlyList<ConsumedHeaderJson> Headers);

internal sealed record ConsumedHeaderJson(
    string Key,
    string? Value,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ValueEncoding);
