using Tributary.Protocol;

namespace Tributary.Broker.Dispatch;

/// <summary>A coordinator's API, served only for the keys (group ids, transactional ids) this broker coordinates.</summary>
public interface ICoordinatedApi
{
    /// <summary>
    /// From now on, a request naming a key whose error is not NONE (a key of a coordinator partition this broker does
    /// not lead, or still loads) is answered with that error instead of being handled; a request with an entry per key
    /// answers only that key's entry so.
    /// </summary>
    void CoordinateBy(Func<string, ErrorCode> coordinatorErrorFor);
}
