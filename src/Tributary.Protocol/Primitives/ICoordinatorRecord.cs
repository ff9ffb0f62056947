namespace Tributary.Protocol;

/// <summary>
/// A key or value schema of an internal topic's coordinator records (<c>__consumer_offsets</c>,
/// <c>__transaction_state</c>, <c>__share_group_state</c>); its key and value share the record type.
/// </summary>
public interface ICoordinatorRecord
{
    /// <summary>The record type: the schema's apiKey, numbered per coordinator.</summary>
    static abstract short RecordType { get; }
}
