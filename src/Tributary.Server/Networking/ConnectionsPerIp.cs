using System.Net;

namespace Tributary.Server.Networking;

/// <summary>
/// max.connections.per.ip and its overrides: how many connections one client address holds. The listener takes a
/// slot before it starts a connection (no thread, no buffers) and closes a connection past the limit at once; the
/// connection gives its slot back when it is disposed. IPv4 addresses mapped into IPv6 count as the IPv4 address.
/// </summary>
public sealed class ConnectionsPerIp(int limit, IReadOnlyDictionary<IPAddress, int> overrides)
{
    private readonly Dictionary<IPAddress, int> _open = [];
    private readonly Lock _lock = new();

    /// <summary>No limit: Kafka's default (max.connections.per.ip = 2147483647, no overrides).</summary>
    public static ConnectionsPerIp Unlimited { get; } = new(int.MaxValue, new Dictionary<IPAddress, int>());

    public bool IsUnlimited => limit == int.MaxValue && overrides.Count == 0;

    /// <summary>The limit for <paramref name="address"/>.</summary>
    public int LimitFor(IPAddress address) => overrides.TryGetValue(Normalize(address), out var own) ? own : limit;

    /// <summary>Takes a slot for <paramref name="address"/>; false (and nothing taken) when it holds its limit already.</summary>
    public bool TryAcquire(IPAddress address)
    {
        if (IsUnlimited)
        {
            return true;
        }

        address = Normalize(address);
        var max = LimitFor(address);
        lock (_lock)
        {
            var open = _open.GetValueOrDefault(address);
            if (open >= max)
            {
                return false;
            }

            _open[address] = open + 1;
            return true;
        }
    }

    public void Release(IPAddress address)
    {
        if (IsUnlimited)
        {
            return;
        }

        address = Normalize(address);
        lock (_lock)
        {
            var open = _open.GetValueOrDefault(address) - 1;
            if (open <= 0)
            {
                _open.Remove(address);
            }
            else
            {
                _open[address] = open;
            }
        }
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
