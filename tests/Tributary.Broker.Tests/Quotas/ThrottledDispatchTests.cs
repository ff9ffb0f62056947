using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Config;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Handlers;
using Tributary.Broker.Quotas;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Quotas;

/// <summary>
/// The dispatcher measures each request against the client's quotas: a produce over producer_byte_rate is appended
/// (never refused), and its outcome and response carry the throttle; acks=0 is throttled without a response; which
/// versions' clients throttle themselves (KIP-219).
/// </summary>
public sealed class ThrottledDispatchTests
{
    [Fact]
    public async Task A_produce_over_its_byte_rate_is_appended_and_answered_with_its_throttle()
    {
        using var broker = new TestBroker(new BrokerConfig(), new ManualTimeProvider());
        broker.CreateTopic("t");
        broker.Core.Metadata.AlterClientQuotas([(new ClientQuotaEntity(null, new QuotaEntityName("test")), ClientQuotaKeys.ProducerByteRate, 100)]);
        var dispatcher = HandlerCatalog.CreateDispatcher(broker.Core, NullLoggerFactory.Instance);
        var connection = new ConnectionInfo("c", null);

        var first = await dispatcher.DispatchAsync(Frame(Produce(acks: 1), 1), connection, CancellationToken.None);
        var body = first.Response as ProduceResponse;
        Assert.Equal(ErrorCode.None, (ErrorCode)body!.Responses[0].PartitionResponses[0].ErrorCode);

        // The first window counts as 10 s, 1,000 bytes at 100 B/s: the produce of about 2 kB is over by about 1 kB, 10 s.
        Assert.InRange(first.ThrottleTimeMs, 9_000, 12_000);
        Assert.Equal(first.ThrottleTimeMs, body.ThrottleTimeMs);

        var unanswered = await dispatcher.DispatchAsync(Frame(Produce(acks: 0), 2), connection, CancellationToken.None);
        Assert.Equal(DispatchAction.NoResponse, unanswered.Action);
        Assert.True(unanswered.ThrottleTimeMs > first.ThrottleTimeMs);
        Assert.Equal(2, broker.Core.FindLog(broker.Topic("t"), 0)!.HighWatermark);

        // Another client id has no quota.
        var other = await dispatcher.DispatchAsync(Frame(Produce(acks: 1), 3, "other"), connection, CancellationToken.None);
        Assert.Equal(0, other.ThrottleTimeMs);
    }

    [Theory]
    [InlineData(ApiKey.Produce, 5, false)]
    [InlineData(ApiKey.Produce, 6, true)]
    [InlineData(ApiKey.Fetch, 7, false)]
    [InlineData(ApiKey.Fetch, 8, true)]
    [InlineData(ApiKey.CreateTopics, 2, false)]
    [InlineData(ApiKey.CreateTopics, 3, true)]
    [InlineData(ApiKey.AlterClientQuotas, 0, true)]
    public void Versions_from_kip_219_on_throttle_themselves(ApiKey api, short version, bool clientThrottles) =>
        Assert.Equal(clientThrottles, ResponseThrottle.ClientThrottles(api, version));

    private static ProduceRequest Produce(short acks) => new()
    {
        Acks = acks,
        TimeoutMs = 1000,
        TopicData = [new ProduceRequest.TopicProduceData { Name = "t", PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = TestBroker.Batch(new string('x', 2000)) }] }],
    };

    private static byte[] Frame(ProduceRequest request, int correlationId, string clientId = "test")
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        new RequestHeader { RequestApiKey = (short)ApiKey.Produce, RequestApiVersion = 9, CorrelationId = correlationId, ClientId = clientId }
            .Write(ref writer, KafkaApis.Find((short)ApiKey.Produce)!.RequestHeaderVersion(9));
        request.Write(ref writer, 9);
        return buffer.WrittenSpan.ToArray();
    }
}
