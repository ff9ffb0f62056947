namespace Tributary.Storage;

public enum LogReadStatus
{
    Ok,

    /// <summary>The fetch offset is below the log start offset or above the log end offset (Kafka OFFSET_OUT_OF_RANGE).</summary>
    OffsetOutOfRange,
}
