namespace Tributary.Protocol;

/// <summary>A tagged field this version of the schema does not know: kept as bytes and written back unchanged.</summary>
public sealed record RawTaggedField(int Tag, byte[] Data);
