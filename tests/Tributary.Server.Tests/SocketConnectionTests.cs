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
            var answer = new byte[6];
            for (var received = 0; received < answer.Length;)
            {
                var count = await client.ReceiveAsync(answer.AsMemory(received)).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                Assert.True(count > 0, "the connection ended before the answer");
                received += count;
            }

            Assert.Equal("answer"u8.ToArray(), answer);
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
}
