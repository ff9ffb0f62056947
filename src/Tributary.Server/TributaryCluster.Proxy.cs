using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Tributary.Server;

/// <summary>
/// A TCP proxy on a loopback port to a loopback target port, for <see cref="TributaryCluster"/>'s faults: frozen, it
/// holds the bytes of every connection (each direction waits with what it read) until thawed; reset, it closes them.
/// </summary>
internal sealed class LoopbackProxy : IAsyncDisposable
{
    private const int ChunkBytes = 16 * 1024;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<TcpClient, TcpClient> _connections = new();
    private readonly Task _accepting;
    private TaskCompletionSource _thawed = NewThawed();

    public LoopbackProxy(int target)
    {
        Target = target;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    public string Address => "127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The loopback port connections go to; 0 refuses them (closes each at once).</summary>
    public int Target { get; set; }

    public void Freeze()
    {
        lock (_connections)
        {
            if (_thawed.Task.IsCompleted)
            {
                _thawed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public void Thaw()
    {
        lock (_connections)
        {
            _thawed.TrySetResult();
        }
    }

    /// <summary>Closes every open connection (as a process that died would have them end).</summary>
    public void Reset()
    {
        foreach (var (client, upstream) in _connections)
        {
            client.Dispose();
            upstream.Dispose();
        }

        _connections.Clear();
    }

    private static TaskCompletionSource NewThawed()
    {
        var thawed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        thawed.SetResult();
        return thawed;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        var upstream = new TcpClient();
        try
        {
            if (Target == 0)
            {
                return;
            }

            await upstream.ConnectAsync(IPAddress.Loopback, Target, _stop.Token).ConfigureAwait(false);
            _connections[client] = upstream;
            await Task.WhenAny(PumpAsync(client.GetStream(), upstream.GetStream()), PumpAsync(upstream.GetStream(), client.GetStream())).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            _connections.TryRemove(client, out _);
            client.Dispose();
            upstream.Dispose();
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[ChunkBytes];
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                Task thawed;
                lock (_connections)
                {
                    thawed = _thawed.Task;
                }

                await thawed.WaitAsync(_stop.Token).ConfigureAwait(false);
                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        Reset();
        await _accepting.ConfigureAwait(false);
        _stop.Dispose();
    }
}
