using System.Net.Sockets;

namespace Tributary.Server.Networking;

/// <summary>How the transport's connections end their socket and report that they closed.</summary>
internal static class ConnectionEnd
{
    /// <summary>Shuts both directions down: a receive or send waiting on the socket ends. Never throws.</summary>
    public static void Shutdown(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Fires a connection's ConnectionClosed on the thread pool: handlers' callbacks never run on the caller's thread.</summary>
    public static void FireClosed(CancellationTokenSource closed) =>
        ThreadPool.UnsafeQueueUserWorkItem(static state =>
        {
            try
            {
                state.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }, closed, preferLocal: false);
}
