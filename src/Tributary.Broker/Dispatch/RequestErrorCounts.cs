using Tributary.Protocol;

namespace Tributary.Broker.Dispatch;

/// <summary>
/// Error codes answered, per API: Kafka's ErrorsPerSec (kafka.network:type=RequestMetrics,request=…,error=…). One
/// counter per (API, code) in a flat array, so counting is one <see cref="Interlocked"/> increment and nothing is
/// allocated. Counted today: errors of Produce and Fetch partitions and their top-level code, and the error responses
/// the dispatcher itself answers (UNKNOWN_SERVER_ERROR for a failed handler, an injected error).
/// </summary>
public sealed class RequestErrorCounts
{
    /// <summary>Highest error code counted; Kafka's codes stay well below it. Higher codes are not counted.</summary>
    public const int ErrorCodeMax = 255;

    // Codes run from -1 (UNKNOWN_SERVER_ERROR) to ErrorCodeMax.
    private const int CodesPerApi = ErrorCodeMax + 2;

    private static readonly int ApiSlots = Enum.GetValues<ApiKey>().Max(k => (int)k) + 1;

    private readonly long[] _counts = new long[ApiSlots * CodesPerApi];

    /// <summary>Counts one answer of <paramref name="error"/> to a request of <paramref name="api"/>; NONE is not counted.</summary>
    public void Count(ApiKey api, short error)
    {
        if (error != 0 && (uint)api < (uint)ApiSlots && error >= -1 && error <= ErrorCodeMax)
        {
            Interlocked.Increment(ref _counts[((int)api * CodesPerApi) + error + 1]);
        }
    }

    /// <summary>Every (API, error code) counted at least once, with its count.</summary>
    public IEnumerable<(ApiKey Api, ErrorCode Error, long Count)> NonZero()
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            var count = Volatile.Read(ref _counts[i]);
            if (count != 0)
            {
                yield return ((ApiKey)(i / CodesPerApi), (ErrorCode)((i % CodesPerApi) - 1), count);
            }
        }
    }
}
