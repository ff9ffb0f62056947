using Tributary.Protocol;

namespace Tributary.Broker.Dispatch;

/// <summary>
/// The throttle_time_ms of any response, and whether a client of a request version throttles itself (KIP-219).
/// </summary>
public static class ResponseThrottle
{
    // The first version of each API whose client waits out throttle_time_ms itself, so the broker sends the response
    // at once and then stops reading; to older versions the broker sends the response only after the throttle time.
    // From the schemas' "Starting in version N, on quota violation, brokers send out responses before throttling"
    // (Produce: v6). APIs added after KIP-219 (2.0) throttle themselves at every version.
    private static readonly Dictionary<ApiKey, short> FirstClientThrottledVersion = new()
    {
        [ApiKey.Produce] = 6,
        [ApiKey.Fetch] = 8,
        [ApiKey.ListOffsets] = 3,
        [ApiKey.Metadata] = 6,
        [ApiKey.OffsetCommit] = 4,
        [ApiKey.OffsetFetch] = 4,
        [ApiKey.FindCoordinator] = 2,
        [ApiKey.JoinGroup] = 3,
        [ApiKey.Heartbeat] = 2,
        [ApiKey.LeaveGroup] = 2,
        [ApiKey.SyncGroup] = 2,
        [ApiKey.DescribeGroups] = 2,
        [ApiKey.ListGroups] = 2,
        [ApiKey.ApiVersions] = 2,
        [ApiKey.CreateTopics] = 3,
        [ApiKey.DeleteTopics] = 2,
        [ApiKey.DeleteRecords] = 1,
        [ApiKey.InitProducerId] = 1,
        [ApiKey.AddPartitionsToTxn] = 1,
        [ApiKey.AddOffsetsToTxn] = 1,
        [ApiKey.EndTxn] = 1,
        [ApiKey.TxnOffsetCommit] = 1,
        [ApiKey.DescribeAcls] = 1,
        [ApiKey.CreateAcls] = 1,
        [ApiKey.DeleteAcls] = 1,
        [ApiKey.DescribeConfigs] = 2,
        [ApiKey.AlterConfigs] = 1,
        [ApiKey.AlterReplicaLogDirs] = 1,
        [ApiKey.DescribeLogDirs] = 1,
        [ApiKey.CreatePartitions] = 1,
        [ApiKey.CreateDelegationToken] = 1,
        [ApiKey.RenewDelegationToken] = 1,
        [ApiKey.ExpireDelegationToken] = 1,
        [ApiKey.DescribeDelegationToken] = 1,
        [ApiKey.DeleteGroups] = 1,
    };

    /// <summary>Whether the client of <paramref name="api"/> v<paramref name="version"/> waits out a throttle itself.</summary>
    public static bool ClientThrottles(ApiKey api, short version) =>
        !FirstClientThrottledVersion.TryGetValue(api, out var first) || version >= first;

    /// <summary>The response's throttle_time_ms; 0 for a response without one.</summary>
    public static int Get(IKafkaMessage response) => response is IThrottledResponse throttled ? throttled.ThrottleTimeMs : 0;

    /// <summary>Sets the response's throttle_time_ms, where it has one (a version without the field does not write it).</summary>
    public static void Set(IKafkaMessage response, int throttleTimeMs)
    {
        if (response is IThrottledResponse throttled)
        {
            throttled.ThrottleTimeMs = throttleTimeMs;
        }
    }
}
