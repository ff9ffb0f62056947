using Tributary.Storage.Devices;

namespace Tributary.Storage.Tests;

/// <summary>
/// A memory device whose files record what they are told of their readers (<see cref="ILogFile.OnRead"/>) and count
/// their reads and flushes.
/// </summary>
internal sealed class RecordingDevice() : DelegatingDevice(new MemoryLogDevice())
{
    private int _readAts;
    private int _flushes;

    public List<(string Path, string Reader, long Position)> Notes { get; } = [];

    /// <summary>Reads made through any of the device's files.</summary>
    public int ReadAts => Volatile.Read(ref _readAts);

    /// <summary>Flushes (fsyncs) made through any of the device's files.</summary>
    public int Flushes => Volatile.Read(ref _flushes);

    public override ILogFile OpenFile(string path) => new RecordingFile(base.OpenFile(path), path, this);

    private sealed class RecordingFile(ILogFile inner, string path, RecordingDevice device) : DelegatingFile(inner)
    {
        public override int ReadAt(long position, Span<byte> destination)
        {
            Interlocked.Increment(ref device._readAts);
            return base.ReadAt(position, destination);
        }

        public override void Flush()
        {
            Interlocked.Increment(ref device._flushes);
            base.Flush();
        }

        public override void OnRead(string reader, long position) => device.Notes.Add((path, reader, position));
    }
}
