using System.Text.Json.Serialization;

namespace Tributary.Cli.Commands;

/// <summary>Source-generated serialization (Native AOT: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ConsumedRecordJson))]
internal sealed partial class ConsumeJsonContext : JsonSerializerContext;
