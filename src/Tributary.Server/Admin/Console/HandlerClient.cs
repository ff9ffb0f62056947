using System.Buffers;
using Tributary.Broker.Dispatch;
using Tributary.Protocol;

namespace Tributary.Server.Admin.Console;

/// <summary>
/// Sends a typed request straight to the broker's own handler for its API, in-process, as the console's principal: the
/// console's changes (create, alter, delete, produce, reset offsets) get the same validation, ACL checks and error codes
/// as a Kafka client's, without a socket. Reads that a handler would only copy go to the broker's state directly.
/// </summary>
internal sealed class HandlerClient(Func<RequestDispatcher> dispatcher)
{
    private const string ClientId = "tributary-console";
    private int _correlationId;

    public async Task<TResponse> SendAsync<TRequest, TResponse>(ApiKey key, short version, TRequest request, ConnectionInfo connection, CancellationToken cancellationToken)
        where TRequest : class, IKafkaMessage<TRequest>
        where TResponse : class, IKafkaMessage<TResponse>
    {
        var handler = dispatcher().Handlers.First(h => h.Key == key);
        if (version < handler.MinVersion || version > handler.MaxVersion)
        {
            throw new InvalidOperationException($"the {key} handler does not serve version {version}");
        }

        var body = new ArrayBufferWriter<byte>();
        var writer = new KafkaWriter(body);
        request.Write(ref writer, version);
        var context = new RequestContext(key, version, Interlocked.Increment(ref _correlationId), ClientId, connection);
        var result = await handler.HandleAsync(context, body.WrittenMemory, cancellationToken).ConfigureAwait(false);
        try
        {
            if (result.Durable is { } durable)
            {
                await durable.ConfigureAwait(false);
            }

            return result.Response as TResponse ?? throw new InvalidOperationException($"the {key} handler sent no response");
        }
        finally
        {
            result.Buffers?.Release();
        }
    }
}
