namespace Tributary.Broker.ShareGroups;

/// <summary>ShareFetch/ShareAcknowledge <c>AcknowledgeTypes</c>: Kafka's numbers, fixed on the wire.</summary>
public enum AcknowledgeType : sbyte
{
    /// <summary>An offset with no record (compacted away, a control record): archived.</summary>
    Gap = 0,
    Accept = 1,
    Release = 2,
    Reject = 3,

    /// <summary>v2 (KIP-1222): keeps the records acquired and restarts their lock.</summary>
    Renew = 4,
}
