using System.Text.Json.Serialization;

namespace Tributary.Interop.Tests.Support;

/// <summary>One message as <c>kcat -C -J</c> prints it; headers are a flat name, value, name, value… list.</summary>
public sealed record KcatMessage(
    [property: JsonPropertyName("topic")] string Topic,
    [property: JsonPropertyName("partition")] int Partition,
    [property: JsonPropertyName("offset")] long Offset,
    [property: JsonPropertyName("key")] string? Key,
    [property: JsonPropertyName("payload")] string? Payload,
    [property: JsonPropertyName("headers")] IReadOnlyList<string>? Headers);
