using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Server.Networking;

namespace Tributary.Server.Tests;

/// <summary>
/// The poller that holds idle connections' sockets: a parked socket wakes once when data comes or its peer hangs up,
/// stays silent while it is not parked (one-shot), can be taken back without waking, and every parked socket wakes when
/// the poller stops. Then a <see cref="SocketConnection"/> that parks: its thread ends, data brings a new one, and
/// closing it while parked (the idle time-out's path) or stopping the poller leaves nothing behind.
/// </summary>
public sealed class ConnectionPollerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AParkedSocketWakesOnceWhenDataArrivesAndIsSilentWhileItIsNotParked()
    {
        using var poller = CreatePoller();
        using var pair = await SocketPair.ConnectAsync();
        using var other = await SocketPair.ConnectAsync();
        var inSet = false;
        var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(poller.Park(pair.ServerFd, 1, () => woken.TrySetResult(), ref inSet));
        Assert.True(inSet);
        Assert.Equal(1, poller.ParkedCount);

        pair.Client.Send([1]);
        await woken.Task.WaitAsync(Bound);
        Assert.Equal(0, poller.ParkedCount);

        // Not parked now (its connection is busy): more data must not reach the poller at all. A socket parked after it
        // wakes only after that data was ready, so by then the first socket's event would have been seen.
        pair.Client.Send([2]);
        var otherWoken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var otherInSet = false;
        Assert.True(poller.Park(other.ServerFd, 2, () => otherWoken.TrySetResult(), ref otherInSet));
        other.Client.Send([3]);
        await otherWoken.Task.WaitAsync(Bound);
        Assert.Equal(0, poller.UnknownEvents);

        // Parked again (re-armed in the set) with its data already waiting: it wakes at once.
        var again = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(poller.Park(pair.ServerFd, 3, () => again.TrySetResult(), ref inSet));
        await again.Task.WaitAsync(Bound);
        Assert.Equal(0, poller.UnknownEvents);
    }

    [Fact]
    public async Task AParkedSocketWakesWhenItsPeerHangsUp()
    {
        using var poller = CreatePoller();
        using var pair = await SocketPair.ConnectAsync();
        var inSet = false;
        var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(poller.Park(pair.ServerFd, 1, () => woken.TrySetResult(), ref inSet));

        pair.Client.Close();
        await woken.Task.WaitAsync(Bound);
        Assert.Equal(0, pair.Server.Receive(new byte[1])); // the end of stream is there to read
    }

    [Fact]
    public async Task ASocketTakenBackDoesNotWakeAndCanBeParkedAgain()
    {
        using var poller = CreatePoller();
        using var pair = await SocketPair.ConnectAsync();
        var inSet = false;
        var wakes = 0;
        Assert.True(poller.Park(pair.ServerFd, 1, () => Interlocked.Increment(ref wakes), ref inSet));
        Assert.True(poller.TryUnpark(pair.ServerFd, 1));
        Assert.False(poller.TryUnpark(pair.ServerFd, 1));
        Assert.Equal(0, poller.ParkedCount);

        // Taken out of the set, so parking it again as if it were still there finds it missing and adds it.
        pair.Client.Send([1]);
        var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(poller.Park(pair.ServerFd, 2, () => woken.TrySetResult(), ref inSet));
        await woken.Task.WaitAsync(Bound);
        Assert.Equal(0, wakes);
        Assert.Equal(0, poller.UnknownEvents);
    }

    [Fact]
    public async Task StoppingWakesEveryParkedSocketAndParksNoMore()
    {
        var poller = CreatePoller();
        using var first = await SocketPair.ConnectAsync();
        using var second = await SocketPair.ConnectAsync();
        var woken = new List<int>();
        var inSet = false;
        Assert.True(poller.Park(first.ServerFd, 1, () => woken.Add(1), ref inSet));
        inSet = false;
        Assert.True(poller.Park(second.ServerFd, 2, () => woken.Add(2), ref inSet));

        poller.Dispose();
        Assert.Equal([1, 2], woken.Order());
        Assert.True(poller.IsStopped);
        inSet = false;
        Assert.False(poller.Park(first.ServerFd, 3, () => woken.Add(3), ref inSet));
        Assert.Equal(0, poller.ParkedCount);
    }

    [Fact]
    public async Task AnIdleConnectionGivesUpItsThreadAndDataBringsANewOne()
    {
        using var poller = CreatePoller();
        var (connection, client) = await LoopbackConnection.ConnectAsync(SocketTransportLimits.Default with { ParkAfterIdleMs = 10 }, poller);
        await using (connection)
        using (client)
        {
            var input = connection.Transport.Input;
            for (var round = 1; round <= 3; round++)
            {
                // The "handler" waits for its next request: the connection parks.
                connection.AwaitingRequest = true;
                var reading = input.ReadAsync().AsTask();
                await WaitUntilAsync(() => poller.ParkedCount == 1);
                Assert.False(reading.IsCompleted);

                client.Send([(byte)round]);
                var read = await reading.WaitAsync(Bound);
                connection.AwaitingRequest = false;
                Assert.Equal([(byte)round], read.Buffer.ToArray());
                input.AdvanceTo(read.Buffer.End);
            }

            Assert.Equal(0, poller.UnknownEvents);
        }
    }

    [Fact]
    public async Task AConnectionClosedWhileParkedLeavesThePollerAndItsClientSeesTheEnd()
    {
        using var poller = CreatePoller();
        var (connection, client) = await LoopbackConnection.ConnectAsync(SocketTransportLimits.Default with { ParkAfterIdleMs = 10 }, poller);
        using (client)
        {
            // As the handler's idle deadline (connections.max.idle.ms) does: the pending read is cancelled and the
            // connection disposed while its socket is parked.
            connection.AwaitingRequest = true;
            var input = connection.Transport.Input;
            var reading = input.ReadAsync().AsTask();
            await WaitUntilAsync(() => poller.ParkedCount == 1);
            input.CancelPendingRead();
            Assert.True((await reading.WaitAsync(Bound)).IsCanceled);
            await connection.DisposeAsync().AsTask().WaitAsync(Bound);

            Assert.Equal(0, poller.ParkedCount);
            Assert.Equal(0, await RawSocket.ReceiveAsync(client).WaitAsync(Bound));
        }
    }

    [Fact]
    public async Task AParkedConnectionWhosePollerStopsGoesOnOnAThreadOfItsOwn()
    {
        var poller = CreatePoller();
        var (connection, client) = await LoopbackConnection.ConnectAsync(SocketTransportLimits.Default with { ParkAfterIdleMs = 10 }, poller);
        await using (connection)
        using (client)
        {
            connection.AwaitingRequest = true;
            var input = connection.Transport.Input;
            var reading = input.ReadAsync().AsTask();
            await WaitUntilAsync(() => poller.ParkedCount == 1);
            poller.Dispose();

            client.Send([7]);
            var read = await reading.WaitAsync(Bound);
            Assert.Equal([7], read.Buffer.ToArray());
            input.AdvanceTo(read.Buffer.End);
        }
    }

    private static ConnectionPoller CreatePoller()
    {
        var poller = ConnectionPoller.TryCreate(NullLogger.Instance);
        Assert.NotNull(poller); // these tests run on Linux, where epoll(7) exists
        return poller;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition never held");
            await Task.Delay(5);
        }
    }

    /// <summary>A connected loopback pair of blocking sockets; only the poller watches the server's end.</summary>
    private sealed class SocketPair(Socket server, Socket client) : IDisposable
    {
        public Socket Server { get; } = server;

        public Socket Client { get; } = client;

        public nint ServerFd => Server.SafeHandle.DangerousGetHandle();

        public static async Task<SocketPair> ConnectAsync()
        {
            using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var client = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await Task.Run(() => client.Connect(listener.LocalEndPoint!));
            var server = await Task.Run(listener.Accept);
            return new SocketPair(server, client);
        }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
        }
    }
}
