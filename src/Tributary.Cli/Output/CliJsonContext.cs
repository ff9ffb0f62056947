using System.Text.Json.Serialization;
using Tributary.Cli.Commands;

namespace Tributary.Cli.Output;

/// <summary>
/// The JSON shapes of <c>--output json</c>, serialized by System.Text.Json's source generator: no reflection, so the
/// CLI stays Native AOT-compatible. Property names are camelCase; a null value is written as null, not left out.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(List<TopicsCommand.TopicListing>))]
[JsonSerializable(typeof(TopicsCommand.TopicDescription))]
[JsonSerializable(typeof(List<GroupsCommand.GroupListing>))]
[JsonSerializable(typeof(GroupDescription))]
[JsonSerializable(typeof(GroupOffsetReset.OffsetResetPlan))]
[JsonSerializable(typeof(ClusterCommand.ClusterDescription))]
[JsonSerializable(typeof(List<AclsCommand.AclEntry>))]
[JsonSerializable(typeof(List<UsersCommand.UserCredential>))]
[JsonSerializable(typeof(List<QuotasCommand.QuotaEntry>))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
