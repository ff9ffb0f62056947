using System.Net;
using System.Net.Sockets;

namespace Tributary.Server.Tests;

/// <summary>Plain loopback sockets for tests that watch the broker refuse or close a connection.</summary>
internal static class RawSocket
{
    /// <summary>
    /// A socket connected to the broker on <paramref name="port"/> of <paramref name="to"/> (default 127.0.0.1), from
    /// the loopback address <paramref name="from"/> if given.
    /// </summary>
    public static async Task<Socket> ConnectAsync(int port, string? from = null, string? to = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        }

        await socket.ConnectAsync(new IPEndPoint(to is null ? IPAddress.Loopback : IPAddress.Parse(to), port));
        return socket;
    }

    /// <summary>Bytes the next receive gets: 0 once the broker has closed the connection (a reset counts as closed).</summary>
    public static async Task<int> ReceiveAsync(Socket socket)
    {
        try
        {
            return await socket.ReceiveAsync(new byte[64], SocketFlags.None);
        }
        catch (SocketException)
        {
            return 0;
        }
    }
}
