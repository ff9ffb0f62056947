using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Server.Networking;

namespace Tributary.Server.Tests;

/// <summary>A <see cref="SocketConnection"/> on an accepted loopback socket, and the client's end of it.</summary>
internal static class LoopbackConnection
{
    public static async Task<(SocketConnection Connection, Socket Client)> ConnectAsync(SocketTransportLimits limits, ConnectionPoller? poller = null)
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var accepted = await listener.AcceptAsync();
        var connection = new SocketConnection(accepted, new BlockMemoryPool(16), limits, NullLogger.Instance, poller);
        connection.Start();
        return (connection, client);
    }
}
