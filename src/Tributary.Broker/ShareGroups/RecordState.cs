namespace Tributary.Broker.ShareGroups;

/// <summary>
/// The state of one in-flight record of a share partition; the numbers are Kafka's (RecordState), and those a
/// snapshot stores (<c>DeliveryState</c> of ShareSnapshotValue: ACQUIRED is stored as AVAILABLE) are fixed on disk.
/// </summary>
public enum RecordState : byte
{
    Available = 0,
    Acquired = 1,
    Acknowledged = 2,
    Archived = 4,
}
