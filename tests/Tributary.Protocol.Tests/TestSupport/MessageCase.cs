namespace Tributary.Protocol.Tests;

public delegate IKafkaMessage ReadMessage(ReadOnlyMemory<byte> bytes, short version);

/// <summary>One schema under test: its versions, a builder of random values and its reader.</summary>
public sealed record MessageCase(string Name, short LowestVersion, short HighestVersion, Func<Random, short, IKafkaMessage> Make, ReadMessage Read)
{
    public override string ToString() => Name;
}
