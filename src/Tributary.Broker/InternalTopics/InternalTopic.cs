using System.Buffers;
using Tributary.Protocol;
using Tributary.Protocol.Records;
using Tributary.Storage;

namespace Tributary.Broker.InternalTopics;

/// <summary>
/// One partition of an internal topic (<c>__consumer_offsets</c>, <c>__transaction_state</c>): a single node
/// coordinates everything, so one partition holds it all. The log is created on the first append, so a broker that
/// never writes has no such topic. Every record has a key and a null value is a tombstone, so a compactor can keep
/// the last record per key; replay hands records to the caller's decoder in offset order (later records win).
/// </summary>
internal sealed class InternalTopic(BrokerCore broker, string name, Action created, Action<Exception, long> undecodable)
{
    /// <summary>Bytes read from the log per step while replaying: bounds the memory the replay holds at once.</summary>
    private const int ReplayReadBytesMax = 1 << 20;

    /// <summary>Our own batches are uncompressed; a compressed one (written by a tool) may grow to this much.</summary>
    private const int DecompressedBytesMax = 64 << 20;

    private readonly Lock _createLock = new();
    private PartitionLog? _log;

    /// <summary>Decodes one record; false when the record is not one the caller keeps (it is counted as skipped).</summary>
    public delegate bool RecordDecoder(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value);

    public string Name => name;

    /// <summary>
    /// Hands every data record from the log start offset to <paramref name="decode"/>, in offset order; compressed
    /// batches are decompressed, control batches skipped. A record without a key, one the decoder declines, or one it
    /// fails on (a <see cref="ProtocolException"/>, logged) counts as skipped. Returns how many were skipped.
    /// </summary>
    public int Replay(RecordDecoder decode)
    {
        var topic = broker.Metadata.Find(name);
        var log = topic is null ? null : broker.FindLog(topic, 0);
        if (log is null)
        {
            return 0;
        }

        var scratch = new ArrayBufferWriter<byte>();
        var skipped = 0;
        var offset = log.LogStartOffset;
        while (offset < log.HighWatermark)
        {
            var read = log.Read(offset, new LogReadOptions(ReplayReadBytesMax));
            if (read.Status != LogReadStatus.Ok || read.Records.IsEmpty)
            {
                break;
            }

            for (var remaining = read.Records; !remaining.IsEmpty;)
            {
                var batch = RecordBatch.Read(remaining);
                remaining = remaining[batch.Header.TotalSize..];
                if (batch.Header.LastOffset < offset)
                {
                    continue;
                }

                if (!batch.Header.IsControl)
                {
                    var records = batch.Header.Compression == CompressionType.None ? batch.Records : batch.DecompressRecords(scratch, DecompressedBytesMax);
                    foreach (var record in records)
                    {
                        // The first batch read may start below the offset asked for (below the log start offset).
                        var recordOffset = batch.Header.BaseOffset + record.OffsetDelta;
                        if (recordOffset >= offset && !TryDecode(decode, record, recordOffset))
                        {
                            skipped++;
                        }
                    }
                }

                offset = batch.Header.NextOffset;
            }
        }

        return skipped;
    }

    /// <summary>Appends the records as one batch (a null value is a tombstone). Throws IOException when the log cannot be written.</summary>
    public void Append(IReadOnlyList<(byte[] Key, byte[]? Value)> records)
    {
        if (records.Count == 0)
        {
            return;
        }

        var builder = new RecordBatchBuilder();
        var now = broker.NowMs;
        foreach (var (key, value) in records)
        {
            builder.Add(now, key, value);
        }

        Log().Append(builder.Build());
    }

    private bool TryDecode(RecordDecoder decode, Record record, long offset)
    {
        if (record.Key is not { } key)
        {
            return false;
        }

        try
        {
            return decode(key, record.Value);
        }
        catch (ProtocolException e)
        {
            undecodable(e, offset);
            return false;
        }
    }

    private PartitionLog Log()
    {
        if (_log is { } log)
        {
            return log;
        }

        lock (_createLock)
        {
            if (_log is null)
            {
                var (opened, wasCreated) = broker.OpenInternalLog(name);
                if (wasCreated)
                {
                    created();
                }

                _log = opened;
            }

            return _log;
        }
    }
}
