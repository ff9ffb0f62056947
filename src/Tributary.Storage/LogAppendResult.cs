namespace Tributary.Storage;

/// <summary>What a produce response needs from an append.</summary>
/// <param name="FirstOffset">Offset assigned to the first record (the produce response's base offset).</param>
/// <param name="LastOffset">Offset assigned to the last record.</param>
/// <param name="LogAppendTimeMs">The broker time written into the batches, or -1 when they keep CreateTime.</param>
/// <param name="LogStartOffset">The partition's log start offset after the append.</param>
public readonly record struct LogAppendResult(long FirstOffset, long LastOffset, long LogAppendTimeMs, long LogStartOffset);
