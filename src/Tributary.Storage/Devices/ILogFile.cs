using Microsoft.Win32.SafeHandles;

namespace Tributary.Storage.Devices;

/// <summary>
/// An open file of the log. One appender at a time (the partition's append lock guarantees it); any number of
/// concurrent positional readers, which must never wait for the appender.
/// </summary>
public interface ILogFile : IDisposable
{
    /// <summary>Bytes in the file, including appends not yet flushed to stable storage.</summary>
    long Length { get; }

    void Append(ReadOnlySpan<byte> data);

    /// <summary>Reads up to <c>destination.Length</c> bytes at <paramref name="position"/>; returns the count read (0 at end).</summary>
    int ReadAt(long position, Span<byte> destination);

    /// <summary>
    /// <paramref name="reader"/> (a connection) fetched bytes from <paramref name="position"/> on, or from an older
    /// file of the partition when 0; a file that drops the pages its readers have passed uses it.
    /// </summary>
    void OnRead(string reader, long position)
    {
    }

    /// <summary>Cuts the file to <paramref name="length"/> bytes; the next append continues from there.</summary>
    void Truncate(long length);

    /// <summary>
    /// Gives back disk space reserved past <see cref="Length"/> for appends to come (see <c>Preallocation</c>). Best
    /// effort: if the file system refuses, the space stays reserved and nothing else changes.
    /// </summary>
    void Trim();

    /// <summary>Makes everything appended so far survive power loss (fsync).</summary>
    void Flush();

    /// <summary>The operating system's handle of the file, for a socket to send from (sendfile); null for a file kept in memory.</summary>
    SafeFileHandle? Handle => null;
}
