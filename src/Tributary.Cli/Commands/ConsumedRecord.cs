using Tributary.Protocol.Records;

namespace Tributary.Cli.Commands;

/// <summary>One record as <c>consume</c> prints it: its place in the log and its timestamp, with the record's bytes.</summary>
internal readonly record struct ConsumedRecord(string Topic, int Partition, long Offset, long Timestamp, Record Record);
