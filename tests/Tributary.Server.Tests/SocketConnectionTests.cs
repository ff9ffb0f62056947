using System.Buffers;
using System.Net.Sockets;
using Tributary.Server.Networking;

namespace Tributary.Server.Tests;

/// <summary>How a <see cref="SocketConnection"/> reports the ends of a connection to its handler, over real loopback sockets.</summary>
public sealed class SocketConnectionTests
{
    [Fact]
    public async Task AClientThatClosesOnlyItsSendingSideLeavesItsRequestsReadableAndTheConnectionOpenForTheAnswers()
    {
        var (connection, client) = await LoopbackConnection.ConnectAsync(SocketTransportLimits.Default);
        await using (connection)
        using (client)
        {
            client.Send("request"u8);
            client.Shutdown(SocketShutdown.Send);

            // The connection's thread has read everything and seen the end of stream before the handler reads at all,
            // as when a handler starts late: the input keeps the bytes, and the connection is not reported closed,
            // which would cancel the answers.
            var input = connection.Transport.Input;
            var read = await input.ReadAtLeastAsync(7).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            while (!read.IsCompleted)
            {
                input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                read = await input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            }

            Assert.Equal("request"u8.ToArray(), read.Buffer.ToArray());
            input.AdvanceTo(read.Buffer.End);
            await Task.Delay(200); // time for a close the end of stream wrongly reported to arrive
            Assert.False(connection.ConnectionClosed.IsCancellationRequested);

            var output = connection.Transport.Output;
            output.Write("answer"u8);
            await output.FlushAsync();
            Assert.Equal("answer"u8.ToArray(), await ReceiveExactlyAsync(client, 6));
        }
    }

    [Fact]
    public async Task AClientThatResetsTheConnectionReportsItClosedAndItsInputEndsWithTheReset()
    {
        var (connection, client) = await LoopbackConnection.ConnectAsync(SocketTransportLimits.Default);
        await using (connection)
        {
            client.LingerState = new LingerOption(true, 0);
            client.Close();

            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var registration = connection.ConnectionClosed.Register(() => closed.TrySetResult());
            await closed.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await Assert.ThrowsAsync<Microsoft.AspNetCore.Connections.ConnectionResetException>(
                async () => await connection.Transport.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        }
    }

    [Fact]
    public async Task ABusyConnectionHasAThreadOfItsOwnWhichItGivesUpWhenIdleAndTakesAgainWhenBusy()
    {
        var threads = new ConnectionThreads(1);
        var limits = SocketTransportLimits.Default with { ConnectionThreadIdleMs = 100 };
        var (connection, client) = await LoopbackConnection.ConnectAsync(limits, threads);
        await using (connection)
        using (client)
        {
            Assert.Equal(0, threads.ThreadsHeld); // connected, nothing sent: no thread
            for (var i = 0; i < 2; i++)
            {
                var served = ServeOneAsync(connection, threads);
                client.Send([1]);
                Assert.Equal(("tributary-connection", 1), await served.WaitAsync(TimeSpan.FromSeconds(30)));
                await ReceiveAnswerAsync(client);

                // Silent for longer than the idle time: the thread ends.
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                while (threads.ThreadsHeld != 0)
                {
                    Assert.True(DateTime.UtcNow < deadline, "the idle connection kept its thread");
                    await Task.Delay(20);
                }
            }
        }
    }

    [Fact]
    public async Task ABusyConnectionThatFindsNoThreadFreeIsServedOnTheThreadPool()
    {
        var threads = new ConnectionThreads(1);
        Assert.True(threads.TryAcquire()); // another connection holds the only one
        var (connection, client) = await LoopbackConnection.ConnectAsync(SocketTransportLimits.Default, threads);
        await using (connection)
        using (client)
        {
            var served = ServeOneAsync(connection, threads);
            client.Send([1]);
            var (thread, held) = await served.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotEqual("tributary-connection", thread);
            Assert.Equal(1, held);
            await ReceiveAnswerAsync(client);
        }
    }

    /// <summary>Answers one request with "ok"; the name of the thread it was read on, and the threads held then.</summary>
    private static async Task<(string? Thread, int ThreadsHeld)> ServeOneAsync(SocketConnection connection, ConnectionThreads threads)
    {
        var input = connection.Transport.Input;
        var read = await input.ReadAsync().ConfigureAwait(false); // resumes inline on the thread that flushed the input
        var result = (Thread.CurrentThread.Name, threads.ThreadsHeld);
        input.AdvanceTo(read.Buffer.End);
        connection.Transport.Output.Write("ok"u8);
        await connection.Transport.Output.FlushAsync().ConfigureAwait(false);
        return result;
    }

    private static async Task ReceiveAnswerAsync(Socket client) => Assert.Equal("ok"u8.ToArray(), await ReceiveExactlyAsync(client, 2));

    private static async Task<byte[]> ReceiveExactlyAsync(Socket client, int count)
    {
        var bytes = new byte[count];
        for (var received = 0; received < bytes.Length;)
        {
            var got = await client.ReceiveAsync(bytes.AsMemory(received)).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(got > 0, "the connection ended before the answer");
            received += got;
        }

        return bytes;
    }
}
