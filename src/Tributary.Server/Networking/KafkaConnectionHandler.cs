using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Security;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Server.Networking;

/// <summary>
/// One Kafka client connection on Kestrel's transport. Reads a frame (size ≤ socket.request.max.bytes),
/// dispatches it, writes the response, then reads the next: one request handled at a time per connection, as Kafka
/// itself does, so responses leave in request order. The one overlap: a produce whose records are appended and whose
/// answer waits only for their flush (flush.messages) is held, in order, while the next requests are read and handled,
/// so pipelined produces share fsyncs; every later answer leaves after it. A parked fetch delays only its own connection.
/// Invalid frames, unknown APIs and unsupported versions close the connection with a log line. On a SASL listener
/// (<paramref name="listener"/>) each connection gets its authenticator, and frames before authentication are held
/// to sasl.server.max.receive.size.
/// </summary>
public sealed partial class KafkaConnectionHandler(RequestDispatcher dispatcher, ConnectionLimits limits, ILogger<KafkaConnectionHandler> logger, ListenerSecurity? listener = null) : ConnectionHandler
{
    /// <summary>Produce responses a connection holds while their flush runs (<see cref="DispatchOutcome.Durable"/>).</summary>
    public const int HeldResponsesMax = 8;

    /// <summary>
    /// Largest request frame, in bytes, copied into an array of the shared pool; a larger one gets an array of its own
    /// that the collector takes back, since the pool would keep it per core for good.
    /// </summary>
    public const int PooledFrameBytesMax = 1024 * 1024;

    /// <summary>
    /// Largest request frame, in bytes, not counted in queued.max.request.bytes: the transport's input buffer
    /// (<see cref="SocketTransportLimits.InputBufferBytesMax"/>, 1 MiB) already bounds it per connection, and counting it
    /// would let one large request that waits for room hold back every small one behind it.
    /// </summary>
    public const int UncountedFrameBytesMax = 1024 * 1024;

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        var authenticatedFrames = new FrameReader(limits.RequestBytesMax);

        // Before authentication, a frame is refused past sasl.server.max.receive.size before its body is buffered.
        var authenticatingFrames = listener is { UsesSasl: true } ? new FrameReader(Math.Min(listener.ReceiveBytesMax, limits.RequestBytesMax)) : authenticatedFrames;
        var cancellation = connection.ConnectionClosed;
        var unflushed = false;
        var held = new Queue<Answer>();
        object? port = (connection.LocalEndPoint as System.Net.IPEndPoint)?.Port;
        LogConnected(connection.ConnectionId, connection.RemoteEndPoint?.ToString());

        // When the server stops it asks every connection to close: one between requests closes at once, one in the
        // middle of a request first answers it (Kestrel aborts whatever is still open after the shutdown grace).
        var closeRequested = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
        var connectionThread = connection.Features.Get<IConnectionThreadFeature>();
        var connectionInfo = new ConnectionInfo(connection.ConnectionId, connection.RemoteEndPoint, listener?.Name ?? ConnectionInfo.DefaultListenerName)
        {
            Authenticator = listener?.NewAuthenticator(),
            SslPrincipal = connection.Features.Get<TlsSession>()?.Principal,
            ResumeOn = connectionThread?.ResumeContext,
            CloseRequested = closeRequested,
        };
        using var onCloseRequested = closeRequested.Register(static state => ((PipeReader)state!).CancelPendingRead(), input);

        // Waiting for input is bounded: between requests by connections.max.idle.ms, for the rest of a request whose
        // first bytes are here by the partial-request timeout, counted from when the handler first waited for them.
        using var readDeadline = new ReadDeadline(input);
        var partialSince = 0L;

        // Bytes of the request being received or handled, reserved in queued.max.request.bytes.
        var requestBudget = limits.QueuedRequestBytes ?? ByteBudget.Unbounded;
        var reserved = 0L;

        // A client over a quota (KIP-219): until this Stopwatch timestamp nothing more is read or handled; 0: none.
        var mutedUntil = 0L;
        var listenerName = connectionInfo.ListenerName;
        ServerMetrics.ConnectionOpened(listenerName);
        try
        {
            while (true)
            {
                // Between requests (nothing of the next one here), the transport may park the connection once nothing is held.
                var reading = ReadAsync(input, output, held, partialSince == 0 ? connectionThread : null, cancellation);
                ReadResult read;
                var timedOut = false;
                if (reading.IsCompleted)
                {
                    read = reading.Result;
                }
                else
                {
                    var waitMs = partialSince == 0 ? limits.IdleTimeoutMs
                        : Math.Max(1, limits.PartialRequestTimeoutMs - (long)Stopwatch.GetElapsedTime(partialSince).TotalMilliseconds);
                    readDeadline.Arm(waitMs);
                    read = await reading.ConfigureAwait(false);
                    timedOut = readDeadline.Disarm();
                }

                connectionThread?.AwaitingRequest = false;

                // A cancelled read is the server stopping or this wait timing out; anything else is a deadline timer
                // that fired as an earlier read completed, and the read's bytes are handled as usual.
                if (read.IsCanceled && (closeRequested.IsCancellationRequested || timedOut))
                {
                    if (!closeRequested.IsCancellationRequested)
                    {
                        if (partialSince == 0)
                        {
                            LogClosedIdle(connection.ConnectionId, limits.IdleTimeoutMs);
                        }
                        else
                        {
                            LogClosedPartialRequest(connection.ConnectionId, read.Buffer.Length, limits.PartialRequestTimeoutMs);
                        }

                        await WriteHeldAsync(output, held, cancellation).ConfigureAwait(false);
                        return;
                    }

                    await WriteHeldAsync(output, held, cancellation).ConfigureAwait(false);
                    LogClosedForStop(connection.ConnectionId);
                    return;
                }

                var buffer = read.Buffer;
                var consumedAny = false;
                while (true)
                {
                    if (mutedUntil != 0)
                    {
                        // The throttled answer leaves at once; the client's next requests wait out its throttle time
                        // here, whether or not the client itself honours throttle_time_ms.
                        unflushed = false;
                        await WriteHeldAsync(output, held, cancellation).ConfigureAwait(false);
                        if ((await output.FlushAsync(cancellation).ConfigureAwait(false)).IsCompleted)
                        {
                            return;
                        }

                        LogMuted(connection.ConnectionId, (long)Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), mutedUntil).TotalMilliseconds);
                        await ThrottleAsync(mutedUntil, cancellation, closeRequested).ConfigureAwait(false);
                        mutedUntil = 0;
                    }

                    var frames = connectionInfo.Authenticator is { IsComplete: false } ? authenticatingFrames : authenticatedFrames;
                    var frame = frames.TryRead(buffer);
                    if (frame.Status == FrameStatus.NeedMoreData)
                    {
                        break;
                    }

                    if (frame.Status == FrameStatus.Invalid)
                    {
                        LogClosed(connection.ConnectionId, OpensTlsHandshake(buffer) ? "a TLS handshake on a listener without TLS (a client set to SSL?)" : frame.Reason ?? "invalid frame");
                        return;
                    }

                    var length = (int)frame.Frame.Length;
                    if (reserved == 0 && length > UncountedFrameBytesMax)
                    {
                        if (!await ReserveAsync(requestBudget, FrameReader.SizePrefixBytes + length, cancellation, closeRequested).ConfigureAwait(false))
                        {
                            LogClosedForStop(connection.ConnectionId);
                            return;
                        }

                        reserved = FrameReader.SizePrefixBytes + length;
                    }

                    var rented = length <= PooledFrameBytesMax ? ArrayPool<byte>.Shared.Rent(Math.Max(length, 1)) : GC.AllocateUninitializedArray<byte>(length);
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        frame.Frame.CopyTo(rented);
                        var apiKey = length >= 2 ? BinaryPrimitives.ReadInt16BigEndian(rented) : (short)-1;
                        buffer = buffer.Slice(frame.Consumed);
                        consumedAny = true;
                        var pending = dispatcher.DispatchAsync(rented.AsMemory(0, length), connectionInfo, cancellation);
                        if (!pending.IsCompleted && (unflushed || held.Count > 0))
                        {
                            // This request waits (a parked fetch, a rebalance): answers already written must not wait with it.
                            unflushed = false;
                            await WriteHeldAsync(output, held, cancellation).ConfigureAwait(false);
                            if ((await output.FlushAsync(cancellation).ConfigureAwait(false)).IsCompleted)
                            {
                                return;
                            }
                        }

                        var outcome = await pending.ConfigureAwait(false);
                        var clientThrottles = true;
                        if (outcome.ThrottleTimeMs > 0)
                        {
                            ServerMetrics.RecordThrottle(apiKey, outcome.ThrottleTimeMs, port);
                            clientThrottles = ResponseThrottle.ClientThrottles((ApiKey)apiKey, outcome.ApiVersion);
                            mutedUntil = Stopwatch.GetTimestamp() + (outcome.ThrottleTimeMs * Stopwatch.Frequency / 1000);
                        }

                        switch (outcome.Action)
                        {
                            case DispatchAction.Close:
                                LogClosed(connection.ConnectionId, outcome.Reason ?? "closed by dispatcher");
                                return;
                            case DispatchAction.RespondAndClose:
                                await WriteHeldAsync(output, held, cancellation).ConfigureAwait(false);
                                await outcome.Durable!.WaitAsync(cancellation).ConfigureAwait(false);
                                if (outcome.Response is not null)
                                {
                                    WriteResponse(output, new Answer(outcome, apiKey, started, port));
                                }

                                await output.FlushAsync(cancellation).ConfigureAwait(false);
                                LogClosed(connection.ConnectionId, outcome.Reason ?? "closed by dispatcher");
                                return;
                            case DispatchAction.Respond when outcome.Durable is { IsCompleted: false } && held.Count < HeldResponsesMax && outcome.ThrottleTimeMs == 0:
                                // Its records are appended; the answer waits for their flush while the next request is read.
                                held.Enqueue(new Answer(outcome, apiKey, started, port));
                                continue;
                            case DispatchAction.Respond:
                                await WriteHeldAsync(output, held, cancellation).ConfigureAwait(false);
                                if (outcome.Durable is { } durable)
                                {
                                    await durable.ConfigureAwait(false);
                                }

                                if (!clientThrottles)
                                {
                                    // A version from before KIP-219: its client does not wait by itself, so the
                                    // broker holds the answer for the throttle time instead, and reads nothing meanwhile.
                                    if (unflushed && (await output.FlushAsync(cancellation).ConfigureAwait(false)).IsCompleted)
                                    {
                                        return;
                                    }

                                    unflushed = false;
                                    await ThrottleAsync(mutedUntil, cancellation, closeRequested).ConfigureAwait(false);
                                    mutedUntil = 0;
                                }

                                WriteResponse(output, new Answer(outcome, apiKey, started, port));
                                unflushed = true;
                                break;
                        }

                        // The response's bytes are in the pipe now: the arrays its records were read into go back to the pool.
                        outcome.Buffers?.Release();
                    }
                    finally
                    {
                        if (rented.Length <= PooledFrameBytesMax)
                        {
                            ArrayPool<byte>.Shared.Return(rented);
                        }

                        requestBudget.Release(reserved);
                        reserved = 0;
                    }
                }

                // A large request that has begun to arrive holds its whole size in queued.max.request.bytes before more
                // of it is read: past the budget this connection stops reading (its client is held back by TCP) until
                // other requests finish, so partly received requests together stay within the budget.
                if (reserved == 0 && buffer.Length >= FrameReader.SizePrefixBytes && ReadSize(buffer) is var size && size > UncountedFrameBytesMax)
                {
                    var frameBytes = FrameReader.SizePrefixBytes + (long)size;
                    if (!requestBudget.TryReserve(frameBytes))
                    {
                        LogRequestBytesWait(connection.ConnectionId, frameBytes, requestBudget.LimitBytes);
                        if (!await ReserveAsync(requestBudget, frameBytes, cancellation, closeRequested).ConfigureAwait(false))
                        {
                            LogClosedForStop(connection.ConnectionId);
                            return;
                        }

                        // The wait was the broker's, not the client's: the rest of the request gets its full time.
                        consumedAny = true;
                    }

                    reserved = frameBytes;
                }

                // A request's first bytes without the rest: its time to arrive starts now (not when more bytes come).
                partialSince = buffer.IsEmpty ? 0 : partialSince == 0 || consumedAny ? Stopwatch.GetTimestamp() : partialSince;
                input.AdvanceTo(buffer.Start, buffer.End);
                unflushed |= WriteFlushed(output, held);

                // One flush for every response of the requests that arrived together (pipelined produce),
                // awaited so a client that stops reading stops being served (backpressure).
                if (unflushed)
                {
                    unflushed = false;
                    if ((await output.FlushAsync(cancellation).ConfigureAwait(false)).IsCompleted)
                    {
                        return;
                    }
                }

                if (read.IsCompleted)
                {
                    // The client closed its sending side: it still gets the answers to what it sent.
                    await WriteHeldAsync(output, held, cancellation).ConfigureAwait(false);
                    await output.FlushAsync(cancellation).ConfigureAwait(false);
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
            requestBudget.Release(reserved);
            ServerMetrics.ConnectionClosed(listenerName);
            LogDisconnected(connection.ConnectionId);
        }
    }

    /// <summary>
    /// Whether the input starts as a TLS ClientHello does: a handshake record (0x16) of TLS 1.x (0x03). As a size prefix
    /// that is over 369 MB, so it is refused as a frame anyway; this names the likely cause.
    /// </summary>
    private static bool OpensTlsHandshake(in ReadOnlySequence<byte> buffer) => buffer.FirstSpan is [0x16, 0x03, ..];

    /// <summary>The size prefix of the frame at the start of <paramref name="buffer"/> (FrameReader has checked it).</summary>
    private static int ReadSize(in ReadOnlySequence<byte> buffer)
    {
        Span<byte> prefix = stackalloc byte[FrameReader.SizePrefixBytes];
        buffer.Slice(0, FrameReader.SizePrefixBytes).CopyTo(prefix);
        return BinaryPrimitives.ReadInt32BigEndian(prefix);
    }

    /// <summary>Reserves request bytes, waiting for room; false if the server asked the connection to close meanwhile.</summary>
    private static async ValueTask<bool> ReserveAsync(ByteBudget budget, long bytes, CancellationToken cancellation, CancellationToken closeRequested)
    {
        if (budget.TryReserve(bytes))
        {
            return true;
        }

        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellation, closeRequested);
        try
        {
            await budget.ReserveAsync(bytes, either.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (closeRequested.IsCancellationRequested && !cancellation.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Waits until the Stopwatch timestamp <paramref name="until"/>, or the server asks the connection to close.</summary>
    private static async ValueTask ThrottleAsync(long until, CancellationToken cancellation, CancellationToken closeRequested)
    {
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), until);
        if (wait <= TimeSpan.Zero)
        {
            return;
        }

        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellation, closeRequested);
        try
        {
            await Task.Delay(wait, either.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (closeRequested.IsCancellationRequested && !cancellation.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// The next input; while it has not arrived, held answers whose flush ends go out, since their client may be
    /// waiting for them before it sends more. Once nothing is held, a wait for the next request is marked on
    /// <paramref name="betweenRequests"/> (null: the wait is for the rest of a request).
    /// </summary>
    private static async ValueTask<ReadResult> ReadAsync(PipeReader input, PipeWriter output, Queue<Answer> held,
        IConnectionThreadFeature? betweenRequests, CancellationToken cancellation)
    {
        var read = input.ReadAsync(cancellation);
        if (read.IsCompleted)
        {
            return read.Result;
        }

        if (held.Count == 0)
        {
            betweenRequests?.AwaitingRequest = true;
            return await read.ConfigureAwait(false);
        }

        var reading = read.AsTask();
        while (held.Count > 0 && !reading.IsCompleted)
        {
            await Task.WhenAny(reading, held.Peek().Outcome.Durable!).ConfigureAwait(false);
            if (WriteFlushed(output, held) && (await output.FlushAsync(cancellation).ConfigureAwait(false)).IsCompleted)
            {
                break;
            }
        }

        if (held.Count == 0 && !reading.IsCompleted)
        {
            betweenRequests?.AwaitingRequest = true;
        }

        return await reading.ConfigureAwait(false);
    }

    /// <summary>Writes the held answers, in order, whose flush has ended; true if it wrote any.</summary>
    private static bool WriteFlushed(PipeWriter output, Queue<Answer> held)
    {
        var wrote = false;
        while (held.TryPeek(out var answer) && answer.Outcome.Durable!.IsCompleted)
        {
            held.Dequeue();
            WriteResponse(output, answer);
            answer.Outcome.Buffers?.Release();
            wrote = true;
        }

        return wrote;
    }

    /// <summary>Writes every held answer, in order, each once its flush has ended.</summary>
    private static async ValueTask WriteHeldAsync(PipeWriter output, Queue<Answer> held, CancellationToken cancellation)
    {
        while (held.TryDequeue(out var answer))
        {
            await answer.Outcome.Durable!.WaitAsync(cancellation).ConfigureAwait(false);
            WriteResponse(output, answer);
            answer.Outcome.Buffers?.Release();
        }
    }

    /// <summary>
    /// Serializes straight into the pipe: the 4-byte size is reserved first and filled in once the body is
    /// written. The pipe hands nothing to the socket before the next flush, so the size is in place by then,
    /// and the response (a fetch's records included) is copied once, into the pipe, never into a staging buffer.
    /// The request's time ends here (<see cref="ServerMetrics.RequestDuration"/>).
    /// </summary>
    private static void WriteResponse(PipeWriter output, Answer answer)
    {
        var outcome = answer.Outcome;
        var size = output.GetMemory(FrameReader.SizePrefixBytes)[..FrameReader.SizePrefixBytes];
        output.Advance(FrameReader.SizePrefixBytes);
        var writer = new KafkaWriter(output);
        if (outcome.ResponseHeaderVersion != DispatchOutcome.NoHeader)
        {
            new ResponseHeader { CorrelationId = outcome.CorrelationId }.Write(ref writer, outcome.ResponseHeaderVersion);
        }

        outcome.Response!.Write(ref writer, outcome.ApiVersion);
        BinaryPrimitives.WriteInt32BigEndian(size.Span, checked((int)writer.Written));
        ServerMetrics.RecordRequest(answer.ApiKey, answer.Started, answer.Port);
    }

    /// <summary>
    /// A response to write, with its request's API key, the moment its frame was taken (<see cref="Stopwatch.GetTimestamp"/>)
    /// and the listener's port (boxed once per connection).
    /// </summary>
    private readonly record struct Answer(DispatchOutcome Outcome, short ApiKey, long Started, object? Port);

    [LoggerMessage(EventId = 300, Level = LogLevel.Debug, Message = "Connection {ConnectionId} from {Remote}")]
    private partial void LogConnected(string connectionId, string? remote);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Closing connection {ConnectionId}: {Reason}")]
    private partial void LogClosed(string connectionId, string reason);

    [LoggerMessage(EventId = 303, Level = LogLevel.Debug, Message = "Closing connection {ConnectionId}: the server is stopping")]
    private partial void LogClosedForStop(string connectionId);

    [LoggerMessage(EventId = 304, Level = LogLevel.Debug, Message = "Closing connection {ConnectionId}: idle for connections.max.idle.ms ({IdleMs} ms)")]
    private partial void LogClosedIdle(string connectionId, long idleMs);

    [LoggerMessage(EventId = 305, Level = LogLevel.Warning,
        Message = "Closing connection {ConnectionId}: a request ({Bytes} bytes so far) did not arrive whole within tributary.partial.request.timeout.ms ({TimeoutMs} ms)")]
    private partial void LogClosedPartialRequest(string connectionId, long bytes, long timeoutMs);

    [LoggerMessage(EventId = 306, Level = LogLevel.Debug,
        Message = "Connection {ConnectionId} stops reading: its request of {Bytes} bytes waits for room in queued.max.request.bytes ({LimitBytes} bytes)")]
    private partial void LogRequestBytesWait(string connectionId, long bytes, long limitBytes);

    [LoggerMessage(EventId = 330, Level = LogLevel.Debug, Message = "Connection {ConnectionId} is throttled: nothing is read from it for {ThrottleMs} ms")]
    private partial void LogMuted(string connectionId, long throttleMs);

    [LoggerMessage(EventId = 302, Level = LogLevel.Debug, Message = "Connection {ConnectionId} ended")]
    private partial void LogDisconnected(string connectionId);
}
