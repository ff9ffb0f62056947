namespace Tributary.Protocol;

/// <summary>A response with Kafka's top-level throttle_time_ms field (tools/ProtocolGen marks every such schema).</summary>
public interface IThrottledResponse
{
    /// <summary>Written only by the versions whose schema has the field.</summary>
    int ThrottleTimeMs { get; set; }
}
