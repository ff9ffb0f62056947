namespace Tributary.Protocol;

/// <summary>Support for generated code: tagged fields must be written in ascending tag order.</summary>
public static class TaggedFields
{
    private static readonly List<RawTaggedField> Empty = [];

    public static IReadOnlyList<RawTaggedField> Sorted(List<RawTaggedField>? fields)
    {
        if (fields is null)
        {
            return Empty;
        }

        for (var i = 1; i < fields.Count; i++)
        {
            if (fields[i - 1].Tag > fields[i].Tag)
            {
                return [.. fields.OrderBy(f => f.Tag)];
            }
        }

        return fields;
    }

    public static void Write(ref KafkaWriter writer, RawTaggedField field)
    {
        writer.WriteUnsignedVarInt((uint)field.Tag);
        writer.WriteUnsignedVarInt((uint)field.Data.Length);
        writer.WriteRawBytes(field.Data);
    }
}
