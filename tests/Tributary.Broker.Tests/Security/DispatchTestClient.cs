using System.Buffers;
using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Tests.Security;

/// <summary>Sends requests through a dispatcher as a client frames them, each with the next correlation id.</summary>
internal sealed class DispatchTestClient(RequestDispatcher dispatcher)
{
    private int _correlationId;

    public static Config.BrokerConfig BrokerConfigWith(params string[] settings)
    {
        var (config, errors) = Config.BrokerConfig.Parse(settings.Select(s => s.Split('=', 2)).Select(p => KeyValuePair.Create(p[0], p[1])));
        return config ?? throw new ArgumentException(string.Join("; ", errors), nameof(settings));
    }

    /// <summary>A request that must be answered without closing the connection.</summary>
    public async Task<TResponse> SendAsync<TRequest, TResponse>(ConnectionInfo connection, ApiKey key, short version, TRequest request)
        where TRequest : IKafkaMessage
    {
        var outcome = await DispatchAsync(connection, key, version, request);
        Assert.True(outcome.Action == DispatchAction.Respond, $"{key}: {outcome.Action} {outcome.Reason}");
        return (TResponse)outcome.Response!;
    }

    public ValueTask<DispatchOutcome> DispatchAsync<TRequest>(ConnectionInfo connection, ApiKey key, short version, TRequest request)
        where TRequest : IKafkaMessage
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(buffer);
        var descriptor = KafkaApis.Find((short)key)!;
        new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = ++_correlationId, ClientId = "test" }
            .Write(ref writer, descriptor.RequestHeaderVersion(version));
        request.Write(ref writer, version);
        return dispatcher.DispatchAsync(buffer.WrittenMemory, connection, CancellationToken.None);
    }
}
