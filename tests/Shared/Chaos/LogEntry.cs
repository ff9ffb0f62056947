namespace Tributary.Tests.Shared.Chaos;

/// <summary>One record of a partition as a final read-committed read after the faults found it.</summary>
public readonly record struct LogEntry(long Offset, string Value);
