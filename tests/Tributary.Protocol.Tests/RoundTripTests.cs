namespace Tributary.Protocol.Tests;

/// <summary>
/// Proves every generated message, at every version its schema defines, encodes and decodes to the same
/// bytes: random values (nulls, multi-byte strings, tagged and unknown tagged fields) → bytes → message → bytes.
/// </summary>
public sealed class RoundTripTests
{
    private const int SamplesPerVersion = 25;

    public static TheoryData<string> MessageNames() => [.. RandomMessages.AllCases.Select(c => c.Name)];

    [Fact]
    public void EverySchemaHasACase()
    {
        // Kafka 4.2.0: 93 API keys, of which 4 are reserved without versions (LeaderAndIsr, StopReplica,
        // UpdateMetadata, ControlledShutdown); 89 × request and response, the two headers and 9 data schemas,
        // and 25 coordinator record keys with their 25 values.
        Assert.Equal(89 * 2 + 2 + 9 + 50, RandomMessages.AllCases.Count);
        Assert.Equal(89, KafkaApis.All.Count);
        Assert.Equal(50, RandomMessages.AllCases.Count(c => c.Name.EndsWith("Key", StringComparison.Ordinal) || c.Name.EndsWith("Value", StringComparison.Ordinal)));
    }

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void EncodeDecodeEncodeGivesIdenticalBytes(string name)
    {
        var c = RandomMessages.AllCases.Single(x => x.Name == name);
        var random = new Random(name.GetHashCode(StringComparison.Ordinal) ^ 0x5eed);
        for (var version = c.LowestVersion; version <= c.HighestVersion; version++)
        {
            for (var i = 0; i < SamplesPerVersion; i++)
            {
                var original = c.Make(random, version);
                var bytes = RandomMessages.Encode(original, version);
                var decoded = c.Read(bytes, version);
                var again = RandomMessages.Encode(decoded, version);
                Assert.True(bytes.AsSpan().SequenceEqual(again), $"{name} v{version}: {RandomMessages.Difference(bytes, again)}");
            }
        }
    }

    [Fact]
    public void UnknownTaggedFieldsArePreservedAndWrittenBack()
    {
        var message = new Messages.ApiVersionsRequest
        {
            ClientSoftwareName = "tributary-test",
            ClientSoftwareVersion = "1.0",
            UnknownTaggedFields = [new RawTaggedField(7, [1, 2, 3]), new RawTaggedField(3, [9])],
        };

        var bytes = RandomMessages.Encode(message, 3);
        var decoded = RandomMessages.ReadAll<Messages.ApiVersionsRequest>(bytes, 3);

        Assert.Equal("tributary-test", decoded.ClientSoftwareName);
        Assert.NotNull(decoded.UnknownTaggedFields);
        Assert.Equal([3, 7], decoded.UnknownTaggedFields.Select(f => f.Tag));
        Assert.Equal([9], decoded.UnknownTaggedFields[0].Data);
        Assert.Equal(bytes, RandomMessages.Encode(decoded, 3));
    }

    [Fact]
    public void KnownTaggedFieldIsReadAndDefaultIsOmitted()
    {
        // FetchRequest v12+ carries ClusterId as tagged field 0; its default (null) is not written at all.
        var withTag = new Messages.FetchRequest { ClusterId = "cluster-a", ReplicaId = -1 };
        var without = new Messages.FetchRequest { ReplicaId = -1 };

        var decoded = RandomMessages.ReadAll<Messages.FetchRequest>(RandomMessages.Encode(withTag, 12), 12);

        Assert.Equal("cluster-a", decoded.ClusterId);
        Assert.True(RandomMessages.Encode(withTag, 12).Length > RandomMessages.Encode(without, 12).Length);
    }

    [Fact]
    public void NonIgnorableFieldThatAVersionCannotCarryIsAnError()
    {
        // ProduceRequest.TransactionalId exists from v3 on; writing it at v2 would silently lose it.
        var message = new Messages.ProduceRequest { TransactionalId = "txn" };

        Assert.Throws<ProtocolException>(() => RandomMessages.Encode(message, 2));
    }

    [Fact]
    public void RequestHeaderClientIdStaysNonCompactInFlexibleVersions()
    {
        // The schema marks ClientId "flexibleVersions": "none": an int16 length even in header v2.
        var header = new Messages.RequestHeader { RequestApiKey = 18, RequestApiVersion = 3, CorrelationId = 7, ClientId = "kcat" };

        var bytes = RandomMessages.Encode(header, 2);

        Assert.Equal(new byte[] { 0, 18, 0, 3, 0, 0, 0, 7, 0, 4, (byte)'k', (byte)'c', (byte)'a', (byte)'t', 0 }, bytes);
    }

    [Fact]
    public void HeaderVersionsFollowTheProtocolRules()
    {
        var apiVersions = KafkaApis.Find((short)ApiKey.ApiVersions)!;
        var fetch = KafkaApis.Find((short)ApiKey.Fetch)!;

        Assert.Equal(2, apiVersions.RequestHeaderVersion(3));
        Assert.Equal(0, apiVersions.ResponseHeaderVersion(3));
        Assert.Equal(1, fetch.RequestHeaderVersion(11));
        Assert.Equal(2, fetch.RequestHeaderVersion(12));
        Assert.Equal(1, fetch.ResponseHeaderVersion(12));
        Assert.Null(KafkaApis.Find(9999));
    }
}
