namespace Tributary.Server.Admin.Console;

// The console API's JSON shapes. Records only, serialized through ConsoleJsonContext (source-generated, so the
// Native AOT CLI serves them without reflection).

internal sealed record ErrorBody(string Error);

internal sealed record SessionBody(bool Secured, string? Principal, string? CsrfToken);

internal sealed record LoginInput(string? Username, string? Password);

internal sealed record BrokerBody(int NodeId, string Host, int Port, IReadOnlyList<string> Listeners);

internal sealed record OverviewBody(
    string ClusterId,
    IReadOnlyList<BrokerBody> Brokers,
    int TopicCount,
    int PartitionCount,
    int OfflinePartitionCount,
    long DiskBytes,
    long RecordCount,
    int GroupCount,
    double RecordsInPerSecond,
    double BytesInPerSecond,
    double BytesOutPerSecond,
    long ThroughputWindowMs);

internal sealed record TopicSummaryBody(string Name, int Partitions, bool Internal, long SizeBytes, long Records);

internal sealed record PartitionBody(int Partition, long StartOffset, long EndOffset, long SizeBytes, int Leader, bool Offline);

internal sealed record ConfigBody(string Name, string? Value, string Source, bool ReadOnly, bool Sensitive);

internal sealed record TopicBody(string Name, string Id, bool Internal, IReadOnlyList<PartitionBody> Partitions, IReadOnlyList<ConfigBody> Configs);

internal sealed record CreateTopicInput(string? Name, int? Partitions, Dictionary<string, string>? Configs);

internal sealed record AlterConfigsInput(Dictionary<string, string>? Set, List<string>? Delete);

internal sealed record ResultBody(string Message);

internal sealed record HeaderBody(string Key, string? Value);

internal sealed record PayloadBody(int Size, string? Text, string? Json, string Hex, bool Truncated);

internal sealed record MessageBody(
    int Partition,
    long Offset,
    long TimestampMs,
    string TimestampType,
    PayloadBody? Key,
    PayloadBody? Value,
    IReadOnlyList<HeaderBody> Headers);

internal sealed record MessagesBody(string Topic, int Partition, long StartOffset, long EndOffset, IReadOnlyList<MessageBody> Messages);

internal sealed record ProduceInput(int? Partition, string? Key, string? Value, List<HeaderBody>? Headers);

internal sealed record ProducedBody(int Partition, long Offset);

internal sealed record SearchInput(string? Field, string? Query, string? HeaderKey, string? JsonPath, long? BytesMax, long? TimeMsMax, int? ResultsMax);

internal sealed record SearchStartedBody(string Id);

internal sealed record SearchBody(
    string Id,
    string Topic,
    string State,
    string? StopReason,
    long BytesScanned,
    long BytesToScan,
    long BytesMax,
    long RecordsScanned,
    IReadOnlyList<MessageBody> Matches);

internal sealed record GroupSummaryBody(string GroupId, string Type, string State, int Members, long Lag);

internal sealed record AssignmentBody(string Topic, IReadOnlyList<int> Partitions);

internal sealed record MemberBody(string MemberId, string? InstanceId, string ClientId, string ClientHost, IReadOnlyList<AssignmentBody> Assignments);

internal sealed record GroupOffsetBody(string Topic, int Partition, long CommittedOffset, long EndOffset, long Lag);

internal sealed record LagSampleBody(long TimeMs, long Lag);

internal sealed record GroupBody(
    string GroupId,
    string Type,
    string State,
    IReadOnlyList<MemberBody> Members,
    IReadOnlyList<GroupOffsetBody> Offsets,
    long Lag,
    IReadOnlyList<LagSampleBody> LagSamples);

internal sealed record ResetOffsetsInput(string? Topic, string? To, long? Offset, long? TimestampMs, List<int>? Partitions);
