namespace Tributary.Storage;

/// <summary>
/// Whole stored batches, byte for byte as they are on disk (a fetch response sends them unchanged).
/// <see cref="Records"/> is empty when the fetch offset is the log end offset or the result is out of range.
/// </summary>
public readonly record struct LogReadResult(
    LogReadStatus Status,
    ReadOnlyMemory<byte> Records,
    long HighWatermark,
    long LogStartOffset,
    long LogEndOffset);
