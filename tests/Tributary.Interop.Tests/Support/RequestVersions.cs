using System.Collections.Concurrent;
using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Server;

namespace Tributary.Interop.Tests.Support;

/// <summary>Records every (API, version) a client sends to an embedded broker, through its intercept hook.</summary>
public sealed class RequestVersions
{
    private readonly ConcurrentDictionary<(ApiKey Key, short Version), bool> _seen = new();

    public RequestVersions(TributaryBroker broker)
    {
        foreach (var key in Enum.GetValues<ApiKey>())
        {
            broker.Intercept(key, context =>
            {
                _seen.TryAdd((context.ApiKey, context.ApiVersion), true);
                return InterceptDecision.Continue;
            });
        }
    }

    /// <summary>The versions of <paramref name="key"/> seen, lowest first.</summary>
    public IReadOnlyList<short> Of(ApiKey key) => [.. _seen.Keys.Where(k => k.Key == key).Select(k => k.Version).Order()];

    public override string ToString() => string.Join(", ", _seen.Keys.OrderBy(k => k.Key).ThenBy(k => k.Version).Select(k => $"{k.Key} v{k.Version}"));
}
