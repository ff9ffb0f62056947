using Tributary.Broker.Dispatch;
using Tributary.Broker.Quotas;

namespace Tributary.Broker.Handlers;

/// <summary>The controller_mutation_rate quota of a CreateTopics, CreatePartitions or DeleteTopics request (KIP-599).</summary>
internal static class ControllerMutations
{
    /// <summary>Kafka's message for THROTTLING_QUOTA_EXCEEDED.</summary>
    public const string ExceededMessage = "The throttling quota has been exceeded.";

    /// <param name="strictFromVersion">the first version that can carry THROTTLING_QUOTA_EXCEEDED; older ones are only throttled.</param>
    public static ControllerMutationQuota For(BrokerCore broker, RequestContext context, short strictFromVersion) =>
        broker.Quotas.Enabled
            ? broker.Quotas.ControllerMutation(ClientQuotaManager.UserOf(context.Connection.Principal), context.ClientId, context.ApiVersion >= strictFromVersion)
            : ControllerMutationQuota.Unlimited;
}
