using System.Net;
using System.Net.Sockets;

namespace Tributary.Interop.Tests.Support;

/// <summary>A loopback port nobody listens on right now (for brokers started as separate processes).</summary>
public static class FreePort
{
    public static int Pick()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
