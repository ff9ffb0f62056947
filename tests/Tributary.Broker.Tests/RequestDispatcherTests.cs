using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Storage;

namespace Tributary.Broker.Tests;

/// <summary>
/// The dispatcher refuses a handler table that would advertise versions the codec cannot read or that are unstable
/// upstream, and hands the connection what the handler returned.
/// </summary>
public sealed class RequestDispatcherTests
{
    [Theory]
    [InlineData(ApiKey.InitProducerId, 0, 5, true)]
    [InlineData(ApiKey.InitProducerId, 0, 6, false)] // v6 is marked unstable in Kafka 4.2.0's schema
    [InlineData(ApiKey.Produce, 0, 13, true)] // v0-2 are below the 4.2 schema's floor but the codec keeps them
    [InlineData(ApiKey.Fetch, 3, 18, false)] // Fetch v0-3 were removed and are not defined
    [InlineData(ApiKey.Metadata, 5, 4, false)]
    public void Handler_ranges_must_lie_within_the_codecs_stable_versions(ApiKey key, short min, short max, bool accepted)
    {
        IApiHandler[] handlers = [new RangeOnly(key, min, max)];

        var create = () => new RequestDispatcher(handlers, NullLogger<RequestDispatcher>.Instance);

        if (accepted)
        {
            Assert.Single(create().Handlers);
        }
        else
        {
            Assert.Throws<ArgumentException>(create);
        }
    }

    [Fact]
    public void A_removed_api_cannot_be_served()
    {
        IApiHandler[] handlers = [new RangeOnly(ApiKey.LeaderAndIsr, 0, 0)];
        Assert.Throws<ArgumentException>(() => new RequestDispatcher(handlers, NullLogger<RequestDispatcher>.Instance));
    }

    [Fact]
    public async Task ApiVersions_v3_and_later_carry_the_feature_levels_and_v0_only_the_ranges()
    {
        RequestDispatcher? dispatcher = null;
        var handler = new Handlers.ApiVersionsHandler(() => dispatcher!);
        dispatcher = new RequestDispatcher([handler], NullLogger<RequestDispatcher>.Instance);
        using var broker = new TestBroker();

        var v3 = await broker.SendAsync(handler, new Protocol.Messages.ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" }, 3);
        var v0 = await broker.SendAsync(handler, new Protocol.Messages.ApiVersionsRequest(), 0);

        Assert.Equal([("group.version", (short)1), ("transaction.version", (short)1)], v3.FinalizedFeatures.Select(f => (f.Name, f.MaxVersionLevel)));
        Assert.Equal(0, v3.FinalizedFeaturesEpoch);
        Assert.All(v3.SupportedFeatures, f => Assert.Equal(0, f.MinVersion));
        Assert.Empty(v0.FinalizedFeatures);
        Assert.Equal((short)ApiKey.ApiVersions, v0.ApiKeys.Single().ApiKey);
    }

    [Fact]
    public async Task The_outcome_carries_the_handlers_response_durable_task_and_buffers()
    {
        var durable = new TaskCompletionSource();
        var result = new HandlerResult(new MetadataResponse(), durable.Task, new ReadBuffers());
        var dispatcher = new RequestDispatcher([new Answering(ApiKey.Metadata, result)], NullLogger<RequestDispatcher>.Instance);

        var outcome = await dispatcher.DispatchAsync(Frame(ApiKey.Metadata, 12, correlationId: 7), new ConnectionInfo("c", null), CancellationToken.None);

        Assert.Equal((DispatchAction.Respond, 7), (outcome.Action, outcome.CorrelationId));
        Assert.Same(result.Response, outcome.Response);
        Assert.Same(durable.Task, outcome.Durable);
        Assert.Same(result.Buffers, outcome.Buffers);
    }

    [Fact]
    public async Task Without_a_response_nothing_is_waited_for_but_the_buffers_are_still_released()
    {
        var result = new HandlerResult(null, new TaskCompletionSource().Task, new ReadBuffers());
        var dispatcher = new RequestDispatcher([new Answering(ApiKey.Produce, result)], NullLogger<RequestDispatcher>.Instance);

        var outcome = await dispatcher.DispatchAsync(Frame(ApiKey.Produce, 9, correlationId: 3), new ConnectionInfo("c", null), CancellationToken.None);

        Assert.Equal(DispatchAction.NoResponse, outcome.Action);
        Assert.Null(outcome.Durable);
        Assert.Same(result.Buffers, outcome.Buffers);
    }

    /// <summary>A request frame: the header at <paramref name="version"/> and no body (the handlers here read none).</summary>
    private static byte[] Frame(ApiKey key, short version, int correlationId)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        var header = new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = correlationId, ClientId = "test" };
        header.Write(ref writer, KafkaApis.Find((short)key)!.RequestHeaderVersion(version));
        return buffer.WrittenSpan.ToArray();
    }

    private sealed class Answering(ApiKey key, HandlerResult result) : IApiHandler
    {
        public ApiKey Key => key;

        public short MinVersion => KafkaApis.Find((short)key)!.LowestVersion;

        public short MaxVersion => KafkaApis.Find((short)key)!.HighestStableVersion;

        public ValueTask<HandlerResult> HandleAsync(RequestContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) => ValueTask.FromResult(result);

        public IKafkaMessage? ErrorResponse(RequestContext context, ReadOnlyMemory<byte> body, ErrorCode error) => throw new NotSupportedException();
    }

    private sealed class RangeOnly(ApiKey key, short min, short max) : IApiHandler
    {
        public ApiKey Key => key;

        public short MinVersion => min;

        public short MaxVersion => max;

        public ValueTask<HandlerResult> HandleAsync(RequestContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) => throw new NotSupportedException();

        public IKafkaMessage? ErrorResponse(RequestContext context, ReadOnlyMemory<byte> body, ErrorCode error) => throw new NotSupportedException();
    }
}
