using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Tributary.Server.Networking;

/// <summary>
/// sendfile(2) and pread(2) on descriptors of files a <see cref="SocketOutput"/> range holds a reference on. The file is
/// passed as its raw descriptor: the range's reference keeps it open even after its owner disposed the handle (a
/// segment deleted by retention), when the interop marshaller would refuse the handle itself.
/// </summary>
internal static partial class SendFile
{
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EINVAL = 22;
    public const int ENOSYS = 38;
    public const int EOPNOTSUPP = 95;

    /// <summary>Bytes read and sent the ordinary way when the socket's buffer is full, so the send can wait for room.</summary>
    public const int WaitPieceBytes = 16 * 1024;

    /// <summary>Bytes read and sent at a time once sendfile has refused a file.</summary>
    public const int CopyPieceBytes = 256 * 1024;

    /// <summary>Bytes the kernel sent straight from files (fetched records), tagged with the listener's port (<c>network.local.port</c>).</summary>
    public static readonly Counter<long> BytesSent = ServerMetrics.Meter.CreateCounter<long>("tributary.sendfile.bytes", "By", "Bytes sent to clients straight from log files with sendfile(2)");

    /// <summary>Linux sends at most this many bytes per call.</summary>
    private const long CallBytesMax = 0x7ffff000;

    /// <summary>Sends up to <paramref name="count"/> bytes from <paramref name="position"/> (which it advances); -1 with <paramref name="errno"/> on failure.</summary>
    public static long Send(SafeSocketHandle socket, SafeFileHandle file, ref long position, long count, out int errno)
    {
        var sent = (long)Sendfile(socket, (int)file.DangerousGetHandle(), ref position, (nuint)Math.Min(count, CallBytesMax));
        errno = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
        return sent;
    }

    /// <summary>Reads into <paramref name="destination"/> from <paramref name="position"/>; the count read, 0 at the end, -1 on failure.</summary>
    public static unsafe int Read(SafeFileHandle file, Span<byte> destination, long position)
    {
        while (true)
        {
            fixed (byte* buffer = destination)
            {
                var read = (long)Pread((int)file.DangerousGetHandle(), buffer, (nuint)destination.Length, position);
                if (read >= 0 || Marshal.GetLastPInvokeError() != EINTR)
                {
                    return (int)read;
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "sendfile", SetLastError = true)]
    private static partial nint Sendfile(SafeSocketHandle outFd, int inFd, ref long offset, nuint count);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static unsafe partial nint Pread(int fd, byte* buffer, nuint count, long offset);
}
