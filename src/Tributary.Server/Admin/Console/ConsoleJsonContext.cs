using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tributary.Server.Admin.Console;

/// <summary>The console API's JSON, generated at build time: no reflection, so it works in the Native AOT CLI.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ErrorBody))]
[JsonSerializable(typeof(SessionBody))]
[JsonSerializable(typeof(LoginInput))]
[JsonSerializable(typeof(OverviewBody))]
[JsonSerializable(typeof(IReadOnlyList<TopicSummaryBody>))]
[JsonSerializable(typeof(TopicBody))]
[JsonSerializable(typeof(CreateTopicInput))]
[JsonSerializable(typeof(AlterConfigsInput))]
[JsonSerializable(typeof(ResultBody))]
[JsonSerializable(typeof(MessagesBody))]
[JsonSerializable(typeof(ProduceInput))]
[JsonSerializable(typeof(ProducedBody))]
[JsonSerializable(typeof(SearchInput))]
[JsonSerializable(typeof(SearchStartedBody))]
[JsonSerializable(typeof(SearchBody))]
[JsonSerializable(typeof(IReadOnlyList<GroupSummaryBody>))]
[JsonSerializable(typeof(GroupBody))]
[JsonSerializable(typeof(ResetOffsetsInput))]
internal sealed partial class ConsoleJsonContext : JsonSerializerContext;
