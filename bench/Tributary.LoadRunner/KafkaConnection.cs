using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.LoadRunner;

/// <summary>
/// One TCP connection to the broker that allows several requests in flight: one thread sends frames while another
/// receives responses, which the broker returns in request order (Kafka's per-connection rule), so the caller
/// matches them to its requests first-in first-out and checks the correlation id. Sends and receives are blocking
/// calls on dedicated threads: simple, and no thread-pool scheduling in the measured path.
/// </summary>
internal sealed class KafkaConnection : IDisposable
{
    /// <summary>Largest response frame accepted; a larger size prefix means the stream is out of step.</summary>
    public const int ResponseBytesMax = 256 * 1024 * 1024;

    private const string ClientId = "tributary-load";

    /// <summary>
    /// Bytes of received data held ahead of the frame being read: enough for hundreds of small produce responses per
    /// receive call, while a large fetch response passes through it only for its first bytes and is otherwise read
    /// straight into its own buffer, as librdkafka does (a 256 KiB <see cref="BufferedStream"/> copied most of every
    /// fetch response once more).
    /// </summary>
    private const int ReceiveAheadBytes = 16 * 1024;

    private readonly Socket _socket;
    private readonly byte[] _ahead = new byte[ReceiveAheadBytes];
    private int _aheadStart;
    private int _aheadEnd;
    private readonly ArrayBufferWriter<byte> _requestBuffer = new(64 * 1024);
    private int _correlationId;

    private KafkaConnection(Socket socket)
    {
        _socket = socket;
    }

    public static KafkaConnection Connect(string host, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Connect(IPAddress.Parse(host), port);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new KafkaConnection(socket);
    }

    /// <summary>
    /// Encodes one request frame into this connection's reusable buffer and returns its correlation id and bytes; the
    /// bytes stay valid until the next call. Only the sending thread may call it.
    /// </summary>
    public (int CorrelationId, ReadOnlyMemory<byte> Frame) Encode<TRequest>(ApiKey key, short version, TRequest request)
        where TRequest : IKafkaMessage
    {
        var descriptor = KafkaApis.Find((short)key) ?? throw new ArgumentOutOfRangeException(nameof(key));
        var correlationId = ++_correlationId;
        _requestBuffer.ResetWrittenCount();
        _requestBuffer.GetSpan(4);
        _requestBuffer.Advance(4);
        var writer = new KafkaWriter(_requestBuffer);
        new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = correlationId, ClientId = ClientId }
            .Write(ref writer, descriptor.RequestHeaderVersion(version));
        request.Write(ref writer, version);
        var frame = _requestBuffer.WrittenMemory;
        // The size prefix is known only now; the buffer is ours, so writing through the read-only view is safe.
        BinaryPrimitives.WriteInt32BigEndian(MemoryMarshal.AsMemory(frame).Span, frame.Length - 4);
        return (correlationId, frame);
    }

    public void Send(ReadOnlySpan<byte> frame)
    {
        while (!frame.IsEmpty)
        {
            var sent = _socket.Send(frame);
            frame = frame[sent..];
        }
    }

    /// <summary>Blocks until one whole response frame has arrived. Throws <see cref="EndOfStreamException"/> when the broker closed the connection.</summary>
    public ResponseFrame Receive()
    {
        Span<byte> prefix = stackalloc byte[4];
        ReadExactly(prefix);
        var size = BinaryPrimitives.ReadInt32BigEndian(prefix);
        if (size < 4 || size > ResponseBytesMax)
        {
            throw new ProtocolException($"response size {size} outside 4..{ResponseBytesMax}");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            ReadExactly(buffer.AsSpan(0, size));
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        return new ResponseFrame(buffer, size);
    }

    /// <summary>
    /// Fills <paramref name="destination"/>: first from the bytes received ahead, then straight from the socket when what
    /// is missing is at least <see cref="ReceiveAheadBytes"/>, else through the read-ahead buffer.
    /// </summary>
    private void ReadExactly(Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            if (_aheadStart < _aheadEnd)
            {
                var n = Math.Min(destination.Length, _aheadEnd - _aheadStart);
                _ahead.AsSpan(_aheadStart, n).CopyTo(destination);
                _aheadStart += n;
                destination = destination[n..];
                continue;
            }

            if (destination.Length >= ReceiveAheadBytes)
            {
                var direct = _socket.Receive(destination);
                if (direct == 0)
                {
                    throw new EndOfStreamException("the broker closed the connection");
                }

                destination = destination[direct..];
                continue;
            }

            var received = _socket.Receive(_ahead);
            if (received == 0)
            {
                throw new EndOfStreamException("the broker closed the connection");
            }

            _aheadStart = 0;
            _aheadEnd = received;
        }
    }

    /// <summary>Decodes a response whose header must carry <paramref name="correlationId"/>.</summary>
    public static TResponse Decode<TResponse>(ApiKey key, short version, int correlationId, ReadOnlyMemory<byte> frame)
        where TResponse : IKafkaMessage<TResponse>
    {
        var descriptor = KafkaApis.Find((short)key)!;
        var reader = new KafkaReader(frame);
        var header = ResponseHeader.Read(ref reader, descriptor.ResponseHeaderVersion(version));
        if (header.CorrelationId != correlationId)
        {
            throw new ProtocolException($"response correlation id {header.CorrelationId}, expected {correlationId}: responses out of order");
        }

        return TResponse.Read(ref reader, version);
    }

    /// <summary>One request, then its response: for set-up calls, never while another thread is receiving.</summary>
    public TResponse Call<TRequest, TResponse>(ApiKey key, short version, TRequest request)
        where TRequest : IKafkaMessage
        where TResponse : IKafkaMessage<TResponse>
    {
        var (correlationId, frame) = Encode(key, version, request);
        Send(frame.Span);
        using var response = Receive();
        return Decode<TResponse>(key, version, correlationId, response.Memory);
    }

    public void Dispose()
    {
        _socket.Dispose();
    }
}
