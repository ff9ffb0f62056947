using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;

namespace Tributary.Cli.Commands;

/// <summary>One record read from the input: key (null without a key separator or when the line has none) and value.</summary>
internal readonly record struct InputRecord(byte[]? Key, byte[] Value);

/// <summary>
/// Splits an input stream into records at a delimiter (a newline by default) and each record into key and value at the
/// first key separator, as <c>kcat -P -K</c> does. The text after the last delimiter is a record only when not empty,
/// so a file ending in a newline has no empty last record.
/// </summary>
internal sealed class DelimitedRecordReader(byte[] delimiter, byte[]? keySeparator)
{
    /// <summary>A record longer than this without a delimiter is an error rather than an unbounded buffer.</summary>
    public const int RecordBytesMax = 64 * 1024 * 1024;

    /// <summary>Bytes of the input consumed so far (read by the progress display).</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    private long _bytesRead;

    /// <summary>Reads every record of <paramref name="input"/> into <paramref name="output"/>, then completes it.</summary>
    public async Task ReadAsync(Stream input, ChannelWriter<InputRecord> output, CancellationToken cancellationToken)
    {
        var reader = PipeReader.Create(input, new StreamPipeReaderOptions(bufferSize: 64 * 1024));
        var records = new List<InputRecord>();
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = result.Buffer;
                var consumed = SplitRecords(buffer, records);
                foreach (var record in records)
                {
                    await output.WriteAsync(record, cancellationToken).ConfigureAwait(false);
                }

                records.Clear();

                var rest = buffer.Slice(consumed);
                if (result.IsCompleted)
                {
                    if (rest.Length > 0)
                    {
                        await output.WriteAsync(Split(rest), cancellationToken).ConfigureAwait(false);
                    }

                    Interlocked.Add(ref _bytesRead, buffer.Length);
                    break;
                }

                if (rest.Length > RecordBytesMax)
                {
                    throw new CommandFailedException($"a record is longer than {RecordBytesMax} bytes: is the delimiter right?");
                }

                Interlocked.Add(ref _bytesRead, buffer.Slice(0, consumed).Length);
                reader.AdvanceTo(consumed, buffer.End);
            }

            output.TryComplete();
        }
        catch (Exception e)
        {
            output.TryComplete(e);
            throw;
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Adds the whole records in <paramref name="buffer"/> to <paramref name="records"/>; returns where the rest begins.</summary>
    private SequencePosition SplitRecords(ReadOnlySequence<byte> buffer, List<InputRecord> records)
    {
        var sequence = new SequenceReader<byte>(buffer);
        var consumed = buffer.Start;
        while (sequence.TryReadTo(out ReadOnlySequence<byte> record, delimiter, advancePastDelimiter: true))
        {
            records.Add(Split(record));
            consumed = sequence.Position;
        }

        return consumed;
    }

    private InputRecord Split(ReadOnlySequence<byte> record)
    {
        if (keySeparator is not null)
        {
            var sequence = new SequenceReader<byte>(record);
            if (sequence.TryReadTo(out ReadOnlySequence<byte> key, keySeparator, advancePastDelimiter: true))
            {
                return new InputRecord(key.ToArray(), sequence.UnreadSequence.ToArray());
            }
        }

        return new InputRecord(null, record.ToArray());
    }
}
