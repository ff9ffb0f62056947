namespace Tributary.Server.Networking;

/// <summary>
/// listener.name.&lt;listener&gt;.max.connections: how many connections one listener holds. The listener takes a slot
/// before it starts a connection and closes one past the limit at once; the connection gives its slot back when it is
/// disposed. Other listeners keep their own counts.
/// </summary>
public sealed class ListenerConnections(string key, int limit)
{
    private int _open;

    /// <summary>The key the limit comes from, for the log line.</summary>
    public string Key { get; } = key;

    public int Limit { get; } = limit;

    /// <summary>Takes a slot; false (and nothing taken) when the listener holds its limit already.</summary>
    public bool TryAcquire()
    {
        var open = Volatile.Read(ref _open);
        while (open < Limit)
        {
            var seen = Interlocked.CompareExchange(ref _open, open + 1, open);
            if (seen == open)
            {
                return true;
            }

            open = seen;
        }

        return false;
    }

    public void Release() => Interlocked.Decrement(ref _open);
}

/// <summary>
/// What one listener checks before it starts a connection: its max.connection.creation.rate limits, broker-wide
/// first, and its own max.connections (null: only the broker-wide limit). <paramref name="Tls"/>: the listener speaks
/// TLS, so its connections are <see cref="SocketStreamConnection"/>s that TLS runs straight over.
/// </summary>
public sealed record ListenerAdmission(IReadOnlyList<ConnectionCreationRate> CreationRates, ListenerConnections? Connections = null, bool Tls = false)
{
    public static ListenerAdmission Unlimited { get; } = new([]);
}
