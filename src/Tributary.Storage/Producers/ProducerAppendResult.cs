using Tributary.Protocol;

namespace Tributary.Storage.Producers;

/// <summary>
/// The outcome of a checked append (<see cref="PartitionLog.AppendChecked(Memory{byte}, long?, bool)"/>): an error and nothing appended, a
/// duplicate of a recent batch (nothing appended; <see cref="Append"/> holds the offsets the original got), or a
/// new append.
/// </summary>
public readonly record struct ProducerAppendResult(ErrorCode Error, string? ErrorMessage, bool IsDuplicate, LogAppendResult Append)
{
    public static ProducerAppendResult Failed(ErrorCode error, string message) => new(error, message, false, default);
}
