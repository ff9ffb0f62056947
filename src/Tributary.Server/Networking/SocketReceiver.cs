using System.IO.Pipelines;
using System.Net.Sockets;

namespace Tributary.Server.Networking;

/// <summary>
/// Receives a connection's socket into its input pipe on the connection's own thread. It waits for data (poll) before
/// taking a block, so an idle connection holds none, and runs work other threads posted to the connection's
/// <see cref="ConnectionThreadContext"/> (a parked fetch woken) between receives. Each flush of the input runs the
/// handler inline; a flush that has to wait (the handler holds <see cref="SocketTransportLimits.InputBufferBytesMax"/>
/// unread, while it waits for something else) blocks the thread, which stops reading the socket. With
/// <paramref name="tryPark"/>, a wait that finds nothing for <paramref name="parkAfterIdleMs"/> asks to park the
/// connection; once parked, the thread ends (another starts when the socket is readable again).
/// </summary>
internal sealed class SocketReceiver(Socket socket, PipeWriter input, ConnectionThreadContext? context, int parkAfterIdleMs = -1, Func<bool>? tryPark = null)
{
    /// <summary>Smallest free space, in bytes, a receive reads into; less than this left in a block starts a new block.</summary>
    private const int ReceiveBytesMin = BlockMemoryPool.BlockBytes / 2;

    /// <summary>
    /// Receives until the client closes its side or the handler stops reading (false), or until the connection is
    /// parked (true: the thread must end without touching the connection again); receive failures are thrown. Does not
    /// complete the input.
    /// </summary>
    public bool Run()
    {
        var socketFd = context is null ? -1 : socket.SafeHandle.DangerousGetHandle();
        var waitMs = tryPark is null ? -1 : parkAfterIdleMs;
        var filledLast = false;
        while (true)
        {
            if (!filledLast)
            {
                // Wait for data before taking a block, so an idle connection holds none; meanwhile run what other
                // threads posted (a parked fetch woken).
                if (context is null)
                {
                    socket.Poll(-1, SelectMode.SelectRead);
                }
                else if (!context.Wait(socketFd, waitMs, out var timedOut))
                {
                    if (timedOut && tryPark!())
                    {
                        return true;
                    }

                    continue;
                }
            }
            else if (context is { HasWork: true })
            {
                context.RunPosted();
            }

            var memory = input.GetMemory(ReceiveBytesMin);
            var received = socket.Receive(memory.Span, SocketFlags.None, out var receiveError);
            if (receiveError == SocketError.WouldBlock)
            {
                filledLast = false; // nothing yet after all: wait for it
                continue;
            }

            if (receiveError != SocketError.Success)
            {
                throw new SocketException((int)receiveError);
            }

            if (received == 0)
            {
                return false; // the client closed its side
            }

            filledLast = received == memory.Length;
            input.Advance(received);
            var flush = input.FlushAsync();
            var flushed = flush.IsCompleted ? flush.Result : WaitForFlush(flush, context);
            if (flushed.IsCompleted || flushed.IsCanceled)
            {
                return false; // the handler stopped reading
            }
        }
    }

    /// <summary>
    /// Waits for a flush of the input that could not complete (the handler holds as much unread as the pipe allows),
    /// running posted work meanwhile: the handler may be waiting for exactly that (a parked fetch ahead of pipelined
    /// requests), and its resuming is what reads the input and lets the flush complete.
    /// </summary>
    private static FlushResult WaitForFlush(ValueTask<FlushResult> flush, ConnectionThreadContext? context)
    {
        var task = flush.AsTask();
        if (context is null)
        {
            return task.GetAwaiter().GetResult();
        }

        task.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(context.Wake);
        while (!task.IsCompleted)
        {
            context.Wait(-1);
        }

        return task.GetAwaiter().GetResult();
    }
}
