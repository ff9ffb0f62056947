namespace Tributary.Storage;

/// <summary>
/// Client traffic of one partition since its log was opened: what produce requests appended and fetch requests read.
/// The broker's handlers add to it (one <see cref="Interlocked"/> add per partition per request, nothing allocated);
/// metrics read it on scrape. Internal appends (coordinators, markers) are not client traffic and are not counted.
/// </summary>
public sealed class PartitionTraffic
{
    private long _bytesIn;
    private long _recordsIn;
    private long _bytesOut;

    /// <summary>Record-batch bytes produce requests appended.</summary>
    public long BytesIn => Volatile.Read(ref _bytesIn);

    /// <summary>Records produce requests appended.</summary>
    public long RecordsIn => Volatile.Read(ref _recordsIn);

    /// <summary>Record-batch bytes fetch responses carried.</summary>
    public long BytesOut => Volatile.Read(ref _bytesOut);

    public void AddIn(long bytes, long records)
    {
        Interlocked.Add(ref _bytesIn, bytes);
        Interlocked.Add(ref _recordsIn, records);
    }

    public void AddOut(long bytes) => Interlocked.Add(ref _bytesOut, bytes);
}
