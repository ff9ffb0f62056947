using System.Net;
using System.Net.Sockets;
using Tributary.Server.Networking;

namespace Tributary.Server.Tests;

/// <summary>
/// The transport's accept never ends Kestrel's accept loop: failures that are not about one connection (out of
/// descriptors surfaces as a SocketException from accept, or as an OutOfMemoryException from starting the
/// connection's thread) are logged (event 315), waited out with a growing delay, and accepting recovers.
/// </summary>
public sealed class AcceptLoopTests
{
    [Fact]
    public async Task AcceptSurvivesOutOfDescriptorsAndOutOfMemoryFailuresAndThenAcceptsTheNextConnection()
    {
        using var log = new CapturedLog();
        using var loggerFactory = log.CreateFactory();
        var failuresLeft = 4;
        var factory = new SocketListenerFactory(SocketTransportLimits.Default, loggerFactory)
        {
            // As when the process is out of descriptors: accept refuses, or the connection's thread cannot start.
            Accept = (socket, cancellationToken) => Interlocked.Decrement(ref failuresLeft) switch
            {
                >= 2 => throw new SocketException((int)SocketError.TooManyOpenSockets),
                >= 0 => throw new OutOfMemoryException("Thread failed to start."),
                _ => socket.AcceptAsync(cancellationToken),
            },
        };
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint);

        // Before, the first failure escaped AcceptAsync, and Kestrel's accept loop ended for good.
        await using var connection = await listener.AcceptAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotNull(connection);
        Assert.Equal(client.LocalEndPoint, connection.RemoteEndPoint);
        Assert.Equal(4, log.Count(315));
        Assert.Contains(log.Entries, e => e.EventId == 315 && e.Message.Contains("OutOfMemoryException", StringComparison.Ordinal));
        Assert.Contains(log.Entries, e => e.EventId == 315 && e.Message.Contains("4 time(s) in a row; accepting again in 80 ms", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnAcceptWaitingOutFailuresEndsWhenTheListenerIsUnbound()
    {
        using var log = new CapturedLog();
        using var loggerFactory = log.CreateFactory();
        var factory = new SocketListenerFactory(SocketTransportLimits.Default, loggerFactory)
        {
            Accept = (_, _) => throw new SocketException((int)SocketError.TooManyOpenSockets),
        };
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var accepting = Task.Run(() => listener.AcceptAsync().AsTask()); // before, it spun here without yielding
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (log.Count(315) < 2 && !accepting.IsCompleted && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.False(accepting.IsCompleted);
        Assert.True(log.Count(315) >= 2, "each failure is logged and waited out");

        // A stop while descriptors are short: the accept that keeps failing returns null (no more connections), it
        // neither throws nor keeps the stop waiting.
        await listener.UnbindAsync();
        Assert.Null(await accepting.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
