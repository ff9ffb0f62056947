namespace Tributary.Broker.Quotas;

/// <summary>The four client quotas and their keys in AlterClientQuotas and DescribeClientQuotas.</summary>
public enum ClientQuotaType
{
    /// <summary>producer_byte_rate: bytes per second a client's produce requests append.</summary>
    Produce,

    /// <summary>consumer_byte_rate: bytes per second a client's fetch responses carry.</summary>
    Fetch,

    /// <summary>request_percentage: percent of one request-handling thread a client's requests take, per second.</summary>
    Request,

    /// <summary>controller_mutation_rate: partitions per second a client creates or deletes (KIP-599).</summary>
    ControllerMutation,
}
