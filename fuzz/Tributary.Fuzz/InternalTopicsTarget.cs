using System.Buffers.Binary;
using System.Reflection;
using Tributary.Broker;
using Tributary.Broker.Groups;
using Tributary.Broker.Transactions;
using Tributary.Protocol;
using Tributary.Protocol.Records;
using Tributary.TestSupport;

namespace Tributary.Fuzz;

/// <summary>
/// Records of the internal topics as a restarted broker reads them: they are appended to <c>__consumer_offsets</c>
/// (first input byte even) or <c>__transaction_state</c> (odd) of an in-memory broker, whose group or transaction
/// coordinator then loads them as at start. Each record is also read with every generated coordinator record schema
/// of its record type (<see cref="CoordinatorRecordSerde"/>). After the first byte, records follow as an int16 key
/// length (negative: no key), the key, an int16 value length (negative: a tombstone) and the value. An undecodable
/// record is skipped with a warning; an exception or an Error logged is a bug.
/// </summary>
public static class InternalTopicsTarget
{
    public const string OffsetsTopic = "__consumer_offsets";

    public const string TransactionsTopic = "__transaction_state";

    private static readonly Lazy<ILookup<short, (MethodInfo Key, MethodInfo Value)>> Schemas = new(FindSchemas);

    public static void Run(byte[] input)
    {
        // An empty input loads an empty __consumer_offsets: every input reaches instrumented code (Program.cs).
        var records = Split(input.AsSpan(Math.Min(1, input.Length)));
        foreach (var (key, value) in records)
        {
            ReadWithSchemas(key, value);
        }

        var log = new FailureLog();
        using var broker = new BrokerCore(FuzzBrokerConfig.InMemory(), new ManualTimeProvider(), log);
        var offsets = input.Length == 0 || (input[0] & 1) == 0;
        var (partition, _) = broker.OpenInternalLog(offsets ? OffsetsTopic : TransactionsTopic, 0);
        if (records.Count > 0)
        {
            var builder = new RecordBatchBuilder();
            foreach (var (key, value) in records)
            {
                builder.Add(broker.NowMs, key, value);
            }

            partition.Append(builder.Build());
        }

        if (offsets)
        {
            using var groups = new GroupCoordinator(broker);
        }
        else
        {
            using var transactions = new TransactionCoordinator(broker, null);
        }

        log.ThrowIfFailed();
    }

    /// <summary>The records an input describes; a record cut short takes what is left.</summary>
    public static List<(byte[]? Key, byte[]? Value)> Split(ReadOnlySpan<byte> bytes)
    {
        var records = new List<(byte[]?, byte[]?)>();
        while (bytes.Length >= 2)
        {
            var key = Take(ref bytes);
            var value = bytes.Length >= 2 ? Take(ref bytes) : null;
            records.Add((key, value));
        }

        return records;
    }

    /// <summary>The bytes of <paramref name="records"/> as <see cref="Split"/> reads them (the input after its first byte).</summary>
    public static byte[] Join(IEnumerable<(byte[]? Key, byte[]? Value)> records)
    {
        var bytes = new List<byte>();
        foreach (var (key, value) in records)
        {
            Put(bytes, key);
            Put(bytes, value);
        }

        return [.. bytes];
    }

    private static byte[]? Take(ref ReadOnlySpan<byte> bytes)
    {
        var length = BinaryPrimitives.ReadInt16BigEndian(bytes);
        bytes = bytes[2..];
        if (length < 0)
        {
            return null;
        }

        var taken = bytes[..Math.Min(length, bytes.Length)].ToArray();
        bytes = bytes[taken.Length..];
        return taken;
    }

    private static void Put(List<byte> bytes, byte[]? field)
    {
        var length = field is null ? (short)-1 : checked((short)field.Length);
        bytes.Add((byte)(length >> 8));
        bytes.Add((byte)length);
        bytes.AddRange(field ?? []);
    }

    private static void ReadWithSchemas(byte[]? key, byte[]? value)
    {
        if (key is null || key.Length < 2)
        {
            return;
        }

        foreach (var (readKey, readValue) in Schemas.Value[BinaryPrimitives.ReadInt16BigEndian(key)])
        {
            Expect(readKey, [new ReadOnlyMemory<byte>(key)]);
            if (value is not null)
            {
                Expect(readValue, [new ReadOnlyMemory<byte>(value), null]);
            }
        }
    }

    /// <summary>Calls a schema's reader; <see cref="ProtocolException"/> is the expected refusal of bad bytes.</summary>
    private static void Expect(MethodInfo read, object?[] arguments)
    {
        try
        {
            read.Invoke(null, BindingFlags.DoNotWrapExceptions, null, arguments, null);
        }
        catch (ProtocolException)
        {
        }
    }

    /// <summary>Every generated coordinator record key schema with its value schema, by record type.</summary>
    private static ILookup<short, (MethodInfo Key, MethodInfo Value)> FindSchemas()
    {
        var assembly = typeof(ICoordinatorRecord).Assembly;
        var deserializeKey = typeof(CoordinatorRecordSerde).GetMethod(nameof(CoordinatorRecordSerde.DeserializeKey))!;
        var deserializeValue = typeof(CoordinatorRecordSerde).GetMethod(nameof(CoordinatorRecordSerde.DeserializeValue))!;
        return assembly.GetTypes()
            .Where(t => t.IsClass && typeof(ICoordinatorRecord).IsAssignableFrom(t) && t.Name.EndsWith("Key", StringComparison.Ordinal))
            .Select(key => (Key: key, Value: assembly.GetType(key.FullName![..^"Key".Length] + "Value")))
            .Where(pair => pair.Value is not null)
            .ToLookup(
                pair => (short)pair.Key.GetProperty(nameof(ICoordinatorRecord.RecordType), BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!,
                pair => (deserializeKey.MakeGenericMethod(pair.Key), deserializeValue.MakeGenericMethod(pair.Value!)));
    }
}
