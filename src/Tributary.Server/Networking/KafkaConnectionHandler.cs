using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Server.Networking;

/// <summary>
/// One Kafka client connection on Kestrel's transport. Reads a frame (size ≤ socket.request.max.bytes),
/// dispatches it, writes the response, then reads the next: one request in flight per connection, as Kafka
/// itself does, so responses leave in request order. A parked fetch therefore delays only its own connection.
/// Invalid frames, unknown APIs and unsupported versions close the connection with a log line.
/// </summary>
public sealed partial class KafkaConnectionHandler(RequestDispatcher dispatcher, ConnectionLimits limits, ILogger<KafkaConnectionHandler> logger) : ConnectionHandler
{
    /// <summary>A response buffer grown past this is dropped after use instead of being kept for the connection's life.</summary>
    private const int RetainedResponseBytesMax = 1024 * 1024;

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        var frames = new FrameReader(limits.RequestBytesMax);
        var response = new ArrayBufferWriter<byte>();
        var cancellation = connection.ConnectionClosed;
        LogConnected(connection.ConnectionId, connection.RemoteEndPoint?.ToString());
        try
        {
            while (true)
            {
                var read = await input.ReadAsync(cancellation).ConfigureAwait(false);
                var buffer = read.Buffer;
                var keepGoing = true;
                while (keepGoing)
                {
                    var frame = frames.TryRead(buffer);
                    if (frame.Status == FrameStatus.NeedMoreData)
                    {
                        break;
                    }

                    if (frame.Status == FrameStatus.Invalid)
                    {
                        LogClosed(connection.ConnectionId, frame.Reason ?? "invalid frame");
                        return;
                    }

                    var length = (int)frame.Frame.Length;
                    var rented = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
                    try
                    {
                        frame.Frame.CopyTo(rented);
                        buffer = buffer.Slice(frame.Consumed);
                        var outcome = await dispatcher.DispatchAsync(rented.AsMemory(0, length), connection.ConnectionId, cancellation).ConfigureAwait(false);
                        switch (outcome.Action)
                        {
                            case DispatchAction.Close:
                                LogClosed(connection.ConnectionId, outcome.Reason ?? "closed by dispatcher");
                                return;
                            case DispatchAction.Respond:
                                keepGoing = await WriteResponseAsync(output, response, outcome, cancellation).ConfigureAwait(false);
                                if (response.Capacity > RetainedResponseBytesMax)
                                {
                                    response = new ArrayBufferWriter<byte>();
                                }

                                break;
                        }
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(rented);
                    }
                }

                if (!keepGoing)
                {
                    return;
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The client went away or the server is stopping.
        }
        catch (ConnectionResetException)
        {
        }
        catch (ProtocolException e)
        {
            // A response the client's version cannot carry: a broker bug, logged, and only this connection pays.
            LogClosed(connection.ConnectionId, e.Reason);
        }
        catch (IOException e)
        {
            LogClosed(connection.ConnectionId, e.Message);
        }
        finally
        {
            LogDisconnected(connection.ConnectionId);
        }
    }

    private static async ValueTask<bool> WriteResponseAsync(PipeWriter output, ArrayBufferWriter<byte> buffer, DispatchOutcome outcome, CancellationToken cancellation)
    {
        buffer.ResetWrittenCount();
        Serialize(buffer, outcome);
        var size = output.GetSpan(4);
        BinaryPrimitives.WriteInt32BigEndian(size, buffer.WrittenCount);
        output.Advance(4);
        output.Write(buffer.WrittenSpan);
        // Awaiting the flush applies backpressure: a client that stops reading stops being served.
        var flushed = await output.FlushAsync(cancellation).ConfigureAwait(false);
        return !flushed.IsCompleted;
    }

    private static void Serialize(ArrayBufferWriter<byte> buffer, DispatchOutcome outcome)
    {
        var writer = new KafkaWriter(buffer);
        new ResponseHeader { CorrelationId = outcome.CorrelationId }.Write(ref writer, outcome.ResponseHeaderVersion);
        outcome.Response!.Write(ref writer, outcome.ApiVersion);
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Debug, Message = "Connection {ConnectionId} from {Remote}")]
    private partial void LogConnected(string connectionId, string? remote);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Closing connection {ConnectionId}: {Reason}")]
    private partial void LogClosed(string connectionId, string reason);

    [LoggerMessage(EventId = 302, Level = LogLevel.Debug, Message = "Connection {ConnectionId} ended")]
    private partial void LogDisconnected(string connectionId);
}
