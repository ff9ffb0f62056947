using System.Buffers;
using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Server.Client;

/// <summary>
/// A minimal Kafka client over one TCP connection, speaking the generated codec: one request at a time.
/// Used by the CLI's admin commands, the raw-socket tests and the load runner.
/// </summary>
public sealed class KafkaWireClient : IAsyncDisposable
{
    /// <summary>Largest response this client accepts.</summary>
    public const int ResponseBytesMax = 128 * 1024 * 1024;

    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    private int _correlationId;

    private KafkaWireClient(TcpClient tcp, Stream stream)
    {
        _tcp = tcp;
        _stream = stream;
    }

    public string ClientId { get; set; } = "tributary-cli";

    public static Task<KafkaWireClient> ConnectAsync(string bootstrap, CancellationToken cancellationToken = default) =>
        ConnectAsync(bootstrap, null, cancellationToken);

    /// <summary>Connects, over TLS when <paramref name="tls"/> is given (an SSL listener).</summary>
    public static async Task<KafkaWireClient> ConnectAsync(string bootstrap, SslClientAuthenticationOptions? tls, CancellationToken cancellationToken = default)
    {
        var colon = bootstrap.LastIndexOf(':');
        var host = colon > 0 ? bootstrap[..colon] : bootstrap;
        var port = colon > 0 ? int.Parse(bootstrap[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture) : 9092;
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            if (tls is null)
            {
                return new KafkaWireClient(tcp, tcp.GetStream());
            }

            var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsClientAsync(tls, cancellationToken).ConfigureAwait(false);
            return new KafkaWireClient(tcp, ssl);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Sends a request and reads its response at the same version.</summary>
    public async Task<TResponse> SendAsync<TRequest, TResponse>(ApiKey key, short version, TRequest request, CancellationToken cancellationToken = default)
        where TRequest : IKafkaMessage
        where TResponse : IKafkaMessage<TResponse>
    {
        var correlationId = await SendOnlyAsync(key, version, request, cancellationToken).ConfigureAwait(false);
        var frame = await ReadFrameAsync(cancellationToken).ConfigureAwait(false);
        var descriptor = KafkaApis.Find((short)key)!;
        return Decode<TResponse>(frame, descriptor.ResponseHeaderVersion(version), version, correlationId);
    }

    private static TResponse Decode<TResponse>(byte[] frame, short headerVersion, short version, int correlationId)
        where TResponse : IKafkaMessage<TResponse>
    {
        var reader = new KafkaReader(frame);
        var header = ResponseHeader.Read(ref reader, headerVersion);
        if (header.CorrelationId != correlationId)
        {
            throw new ProtocolException($"response correlation id {header.CorrelationId}, expected {correlationId}");
        }

        return TResponse.Read(ref reader, version);
    }

    /// <summary>Sends a request without waiting for a response (Produce acks=0); returns its correlation id.</summary>
    public async Task<int> SendOnlyAsync<TRequest>(ApiKey key, short version, TRequest request, CancellationToken cancellationToken = default)
        where TRequest : IKafkaMessage
    {
        var correlationId = Interlocked.Increment(ref _correlationId);
        var bytes = Encode(key, version, correlationId, ClientId, request);
        await _stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        return correlationId;
    }

    /// <summary>The bytes of a whole request frame, size prefix included.</summary>
    public static byte[] Encode<TRequest>(ApiKey key, short version, int correlationId, string? clientId, TRequest request)
        where TRequest : IKafkaMessage
    {
        var descriptor = KafkaApis.Find((short)key) ?? throw new ArgumentOutOfRangeException(nameof(key));
        var buffer = new ArrayBufferWriter<byte>();
        buffer.GetSpan(4);
        buffer.Advance(4);
        var writer = new KafkaWriter(buffer);
        new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = correlationId, ClientId = clientId }
            .Write(ref writer, descriptor.RequestHeaderVersion(version));
        request.Write(ref writer, version);
        var bytes = buffer.WrittenSpan.ToArray();
        BinaryPrimitives.WriteInt32BigEndian(bytes, bytes.Length - 4);
        return bytes;
    }

    /// <summary>Writes raw bytes to the connection (hostile-input tests).</summary>
    public Task WriteRawAsync(byte[] bytes, CancellationToken cancellationToken = default) => _stream.WriteAsync(bytes, cancellationToken).AsTask();

    /// <summary>Reads one response frame (without its size prefix); throws EndOfStreamException when the broker closed the connection.</summary>
    public async Task<byte[]> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        var prefix = new byte[4];
        await _stream.ReadExactlyAsync(prefix, cancellationToken).ConfigureAwait(false);
        var size = BinaryPrimitives.ReadInt32BigEndian(prefix);
        if (size < 0 || size > ResponseBytesMax)
        {
            throw new ProtocolException($"response size {size} outside 0..{ResponseBytesMax}");
        }

        var frame = new byte[size];
        await _stream.ReadExactlyAsync(frame, cancellationToken).ConfigureAwait(false);
        return frame;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        _tcp.Dispose();
    }
}
