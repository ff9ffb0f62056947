using System.IO.Pipelines;
using System.Net.Sockets;

namespace Tributary.Server.Networking;

/// <summary>
/// Receives a connection's socket into its input pipe. An idle connection holds no thread and no block: it waits with
/// a zero-byte receive. Once data is there it takes a dedicated thread from <see cref="ConnectionThreads"/> and keeps
/// it while busy: the thread waits for data (poll) before taking a block, and runs work other threads posted to the
/// connection's <see cref="ConnectionThreadContext"/> (a parked fetch woken) between receives. After
/// <see cref="SocketTransportLimits.ConnectionThreadIdleMs"/> with neither, the thread ends and the connection waits
/// without one again. When no thread is free the connection is served on the thread pool. Each flush of the input runs
/// the handler inline; a flush that has to wait (the handler holds <see cref="SocketTransportLimits.InputBufferBytesMax"/>
/// unread, while it waits for something else) stops the reading of the socket.
/// </summary>
internal sealed class SocketReceiver(Socket socket, PipeWriter input, ConnectionThreadContext? context, ConnectionThreads threads,
    int threadIdleMs, Action<int> ownThreadChanged)
{
    /// <summary>Smallest free space, in bytes, a receive reads into; less than this left in a block starts a new block.</summary>
    private const int ReceiveBytesMin = BlockMemoryPool.BlockBytes / 2;

    /// <summary>Stack reserved for a connection's thread, in bytes.</summary>
    private const int ThreadStackBytes = 512 * 1024;

    /// <summary>
    /// Receives until the client closes its side or the handler stops reading; receive failures are thrown. Does not
    /// complete the input.
    /// </summary>
    public async Task RunAsync()
    {
        context?.Detach();
        while (true)
        {
            // Completes when data (or the end of stream, or an error) is there, without a buffer or a thread.
            await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
            bool ended;
            if (threads.TryAcquire())
            {
                try
                {
                    ended = await ReceiveOnThreadAsync().ConfigureAwait(false);
                }
                finally
                {
                    threads.Release();
                }
            }
            else
            {
                ended = await ReceiveAvailableAsync().ConfigureAwait(false);
            }

            if (ended)
            {
                return;
            }
        }
    }

    /// <summary>Receives on a thread of its own until the input ends (true) or the connection is idle (false).</summary>
    private Task<bool> ReceiveOnThreadAsync()
    {
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            var thread = new Thread(() =>
            {
                try
                {
                    done.TrySetResult(ReceiveHere());
                }
                catch (Exception e)
                {
                    done.TrySetException(e);
                }
            }, ThreadStackBytes)
            { Name = "tributary-connection", IsBackground = true };
            thread.Start();
        }
        catch (Exception e) when (e is OutOfMemoryException or ThreadStartException)
        {
            // No thread to be had (out of memory or descriptors): this burst is received on the thread pool.
            return ReceiveAvailableAsync();
        }

        return done.Task;
    }

    /// <summary>On the connection's thread: receives while there is something to do; true once the input has ended.</summary>
    private bool ReceiveHere()
    {
        ownThreadChanged(Environment.CurrentManagedThreadId);
        context?.Attach();
        try
        {
            return ReceiveUntilIdle();
        }
        finally
        {
            context?.Detach();
            ownThreadChanged(0);
        }
    }

    private bool ReceiveUntilIdle()
    {
        var socketFd = context is null ? -1 : socket.SafeHandle.DangerousGetHandle();
        var filledLast = false;
        while (true)
        {
            if (!filledLast)
            {
                // Wait for data before taking a block, so an idle connection holds none; meanwhile run what other
                // threads posted (a parked fetch woken).
                if (context is null)
                {
                    if (!socket.Poll(TimeSpan.FromMilliseconds(threadIdleMs), SelectMode.SelectRead))
                    {
                        return false;
                    }
                }
                else if (!context.Wait(socketFd, threadIdleMs, out var timedOut))
                {
                    if (timedOut)
                    {
                        return false;
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
                return true; // the client closed its side
            }

            filledLast = received == memory.Length;
            input.Advance(received);
            var flush = input.FlushAsync();
            var flushed = flush.IsCompleted ? flush.Result : WaitForFlush(flush, context);
            if (flushed.IsCompleted || flushed.IsCanceled)
            {
                return true; // the handler stopped reading
            }
        }
    }

    /// <summary>
    /// Without a thread of its own: receives what the socket holds, flushing (and so running the handler) on the
    /// thread pool; true once the input has ended.
    /// </summary>
    private async Task<bool> ReceiveAvailableAsync()
    {
        while (true)
        {
            var memory = input.GetMemory(ReceiveBytesMin);
            var received = socket.Receive(memory.Span, SocketFlags.None, out var receiveError);
            if (receiveError == SocketError.WouldBlock)
            {
                return false;
            }

            if (receiveError != SocketError.Success)
            {
                throw new SocketException((int)receiveError);
            }

            if (received == 0)
            {
                return true;
            }

            input.Advance(received);
            var flushed = await input.FlushAsync().ConfigureAwait(false);
            if (flushed.IsCompleted || flushed.IsCanceled)
            {
                return true;
            }

            if (received < memory.Length)
            {
                return false; // taken all there was: wait for more without a block
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
