namespace Tributary.Protocol.Records;

/// <summary>Why a produce request's records were refused. The broker maps each to a Kafka error code.</summary>
public enum RecordBatchError
{
    None = 0,

    /// <summary>Bytes that do not form a batch: truncation, bad lengths, CRC mismatch, unparseable records (CORRUPT_MESSAGE).</summary>
    CorruptMessage,

    /// <summary>Magic 0 or 1, the pre-0.11 message formats, which Tributary does not accept.</summary>
    UnsupportedMagic,

    /// <summary>Codec bits 5 to 7, which no Kafka version defines (UNSUPPORTED_COMPRESSION_TYPE).</summary>
    UnsupportedCompressionType,

    /// <summary>A well-formed batch whose contents break a rule: offset deltas not 0..n-1 (INVALID_RECORD).</summary>
    InvalidRecord,

    /// <summary>A compressed batch that decompresses beyond the configured limit.</summary>
    DecompressedTooLarge,

    /// <summary>
    /// The broker-wide decompression scratch budget had no room for this batch within the wait: a transient refusal
    /// of a batch that may be valid, answered with a retriable error.
    /// </summary>
    ScratchMemoryUnavailable,
}
