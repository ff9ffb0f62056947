namespace Tributary.Protocol.Records;

/// <summary>The type in a control record's key. Numbers are Kafka's; only the transaction markers are written here.</summary>
public enum ControlRecordType : short
{
    Abort = 0,
    Commit = 1,
}
