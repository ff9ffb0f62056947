namespace Tributary.Storage;

/// <summary>
/// How <see cref="PartitionLog.Read"/> reads: at most <see cref="MaxBytes"/> of whole batches, but at least one whole
/// batch when <see cref="MinOneBatch"/> (KIP-74); never at or beyond the high watermark nor <see cref="MaxOffset"/>
/// (read_committed passes the last stable offset, which is always a batch boundary).
/// </summary>
/// <param name="MaxBytes">The byte budget; a read stays within one segment, so it costs this plus one batch at most.</param>
public readonly record struct LogReadOptions(int MaxBytes)
{
    public bool MinOneBatch { get; init; } = true;

    /// <summary>An upper bound below the high watermark; <see cref="long.MaxValue"/> for none.</summary>
    public long MaxOffset { get; init; } = long.MaxValue;

    /// <summary>
    /// Read up to the log end offset instead of the high watermark: a follower's fetch from its leader (the follower
    /// reports its log end offset by fetching, so it must see what is not yet replicated), and producer-state replay.
    /// </summary>
    public bool UpToLogEnd { get; init; }

    /// <summary>
    /// For a fetch: small batches land in an array rented from here (the caller returns it once the records are no
    /// longer referenced); large ones stay in the segment file until the response is written
    /// (<see cref="Segments.SegmentRecords"/>). Null reads into new arrays.
    /// </summary>
    public ReadBuffers? Buffers { get; init; }

    /// <summary>
    /// The reading connection: a read that returns records tells the active segment's file where it is, or that it is
    /// still in an older segment, for the drop of pages its readers have passed (<see cref="Devices.ILogFile.OnRead"/>).
    /// </summary>
    public string? Reader { get; init; }
}
