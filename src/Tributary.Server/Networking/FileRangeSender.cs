using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Tributary.Server.Networking;

/// <summary>
/// Sends the file ranges of a connection's output (<see cref="SocketOutput.FileRange"/>) with sendfile(2): the kernel
/// passes the page-cache pages to TCP, so the bytes are never copied into (or out of) the broker's memory. When the
/// socket's buffer is full (EAGAIN), the connection's own thread waits for room and goes on; any other thread reads the
/// next piece and sends it through <see cref="SocketSender"/> the ordinary way, which waits for room asynchronously, and
/// sendfile takes over again. A file system that cannot splice turns sendfile off for the connection: its ranges are
/// read and sent the ordinary way from then on.
/// </summary>
internal sealed partial class FileRangeSender(SocketSender sender, Socket socket, KeyValuePair<string, object?> portTag, string connectionId, ILogger logger)
{
    private readonly ILogger _logger = logger;

    /// <summary>
    /// Whether file ranges go out with sendfile(2); false after sendfile refused a file, after which they are read and
    /// sent the ordinary way. Tests turn it off to exercise that path.
    /// </summary>
    public bool SendFileEnabled { get; set; } = true;

    public async Task SendAsync(SocketOutput.FileRange range)
    {
        var position = range.Position;
        var end = range.Position + range.Length;
        byte[]? piece = null;
        try
        {
            while (position < end)
            {
                if (SendFileEnabled)
                {
                    var sent = SendFile.Send(socket.SafeHandle, range.File, ref position, end - position, out var errno);
                    if (sent > 0)
                    {
                        SendFile.BytesSent.Add(sent, portTag);
                        continue;
                    }

                    if (sent == 0)
                    {
                        throw FileEnded(end - position);
                    }

                    if (errno == SendFile.EINTR)
                    {
                        continue;
                    }

                    if (errno is SendFile.EINVAL or SendFile.ENOSYS or SendFile.EOPNOTSUPP)
                    {
                        SendFileEnabled = false;
                        LogSendFileRefused(connectionId, errno);
                    }
                    else if (errno != SendFile.EAGAIN)
                    {
                        throw new SocketException(errno);
                    }
                    else if (sender.OnOwnThread)
                    {
                        sender.WaitForRoom();
                        continue;
                    }
                }

                // A piece read and sent the ordinary way: the send waits for room in the socket's buffer.
                var pieceBytes = SendFileEnabled ? SendFile.WaitPieceBytes : SendFile.CopyPieceBytes;
                piece ??= ArrayPool<byte>.Shared.Rent(pieceBytes);
                var read = SendFile.Read(range.File, piece.AsSpan(0, (int)Math.Min(Math.Min(pieceBytes, piece.Length), end - position)), position);
                if (read <= 0)
                {
                    throw read == 0 ? FileEnded(end - position) : new IOException($"reading the file to send failed (errno {Marshal.GetLastPInvokeError()})");
                }

                await sender.SendAsync(piece.AsMemory(0, read)).ConfigureAwait(false);
                position += read;
            }
        }
        finally
        {
            if (piece is not null)
            {
                ArrayPool<byte>.Shared.Return(piece);
            }
        }
    }

    private static IOException FileEnded(long bytesMissing) => new($"the file ended {bytesMissing} bytes before the range being sent did");

    [LoggerMessage(EventId = 325, Level = LogLevel.Warning, Message = "Connection {ConnectionId}: sendfile refused the file (errno {Errno}); its fetched records are copied from now on")]
    private partial void LogSendFileRefused(string connectionId, int errno);
}
