using Tributary.Protocol;

namespace Tributary.Broker.Dispatch;

/// <summary>What an interceptor wants done with a request: pass it on (default), answer with an error, delay it, or drop the connection.</summary>
public readonly record struct InterceptDecision(ErrorCode? Error = null, TimeSpan Delay = default, bool DropConnection = false)
{
    public static InterceptDecision Continue => default;
}
