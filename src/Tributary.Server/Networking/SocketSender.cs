using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Tributary.Server.Networking;

/// <summary>
/// Drains a connection's output pipe into its socket. The loop waits on the pipe asynchronously and runs inline on
/// whichever thread flushes the output. On the connection's own thread (<see cref="OwnThreadId"/>) a send completes
/// before that flush returns, waiting (poll) while the socket's buffer is full; on any other thread it waits for room
/// asynchronously, so a client that stops reading holds only its own connection's thread. File ranges placed among the
/// pipe's bytes go out through <see cref="FileRangeSender"/>.
/// </summary>
internal sealed class SocketSender
{
    /// <summary>Blocks one gathering send hands the kernel (below Linux's 1,024 iovecs per sendmsg).</summary>
    private const int SendSegmentsMax = 256;

    private const int IpProtocolTcp = 6;
    private const int TcpCork = 3; // Linux's TCP_CORK option

    private readonly Socket _socket;
    private readonly PipeReader _reader;
    private readonly SocketOutput _output;
    // Grows with the first responses spread over several blocks (up to SendSegmentsMax), so an idle connection holds none.
    private readonly List<ArraySegment<byte>> _sendSegments = [];
    private long _pipeBytesSent;
    private bool _corkEnabled = OperatingSystem.IsLinux();

    // When a send on the connection's own thread stops waiting for room (Stopwatch ticks): set when closing.
    private long _sendDeadline = long.MaxValue;

    // Set before every CancelPendingRead of the output that is meant to end the loop; the others only wake it.
    private volatile bool _stopped;

    public SocketSender(Socket socket, PipeReader reader, SocketOutput output, KeyValuePair<string, object?> portTag, string connectionId, ILogger logger)
    {
        _socket = socket;
        _reader = reader;
        _output = output;
        FileRanges = new FileRangeSender(this, socket, portTag, connectionId, logger);
    }

    public FileRangeSender FileRanges { get; }

    /// <summary>The managed id of the connection's own thread, where sends may wait for room; 0 while it has none.</summary>
    public int OwnThreadId { get; set; }

    /// <summary>True on the connection's own thread, where a send may wait for room; elsewhere sends never block.</summary>
    public bool OnOwnThread => Environment.CurrentManagedThreadId == OwnThreadId;

    /// <summary>Ends the loop at its next read of the output, whatever is left in it.</summary>
    public void Stop()
    {
        _stopped = true;
        _reader.CancelPendingRead();
    }

    /// <summary>A send on the connection's own thread that waits for room gives up after <paramref name="wait"/> from now.</summary>
    public void StopWaitingForRoomAfter(TimeSpan wait) =>
        Volatile.Write(ref _sendDeadline, Stopwatch.GetTimestamp() + (long)(wait.TotalSeconds * Stopwatch.Frequency));

    /// <summary>Sends what the output holds until it is completed or <see cref="Stop"/> is called; send failures are thrown.</summary>
    public async Task RunAsync()
    {
        while (true)
        {
            var read = await _reader.ReadAsync().ConfigureAwait(false);
            if (read.IsCanceled && _stopped)
            {
                break;
            }

            // Pipe bytes up to each file range placed among them, the range itself (sendfile), then the rest, corked:
            // the small pieces between ranges leave with the ranges' bytes instead of as packets of their own, each of
            // which would wake the client.
            var buffer = read.Buffer;
            var corked = false;
            while (_output.TryPeekRange(_pipeBytesSent, buffer.Length, out var range))
            {
                corked = corked || Cork(true);
                var before = range.PipePosition - _pipeBytesSent;
                if (before > 0)
                {
                    await SendAsync(buffer.Slice(0, before)).ConfigureAwait(false);
                    buffer = buffer.Slice(before);
                    _pipeBytesSent += before;
                }

                await FileRanges.SendAsync(range).ConfigureAwait(false);
                _output.RangeSent();
            }

            if (!buffer.IsEmpty)
            {
                await SendAsync(buffer).ConfigureAwait(false);
                _pipeBytesSent += buffer.Length;
            }

            if (corked)
            {
                Cork(false); // sends what the cork held
            }

            _reader.AdvanceTo(buffer.End);
            if (read.IsCompleted)
            {
                break;
            }
        }
    }

    /// <summary>Whether TCP_CORK is set on the socket now (tests: it must be clear once a response has gone out).</summary>
    public bool Corked
    {
        get
        {
            Span<byte> value = stackalloc byte[sizeof(int)];
            _socket.GetRawSocketOption(IpProtocolTcp, TcpCork, value);
            return MemoryMarshal.Read<int>(value) != 0;
        }
    }

    /// <summary>
    /// Sets or clears TCP_CORK (Linux): while set, TCP sends only full segments. True if it took effect; after a
    /// refusal (a platform without it) it is not tried again.
    /// </summary>
    private bool Cork(bool on)
    {
        if (!_corkEnabled)
        {
            return false;
        }

        try
        {
            Span<byte> value = stackalloc byte[sizeof(int)];
            MemoryMarshal.Write(value, on ? 1 : 0);
            _socket.SetRawSocketOption(IpProtocolTcp, TcpCork, value);
            return true;
        }
        catch (SocketException)
        {
            _corkEnabled = false;
            return false;
        }
    }

    private ValueTask SendAsync(ReadOnlySequence<byte> buffer) =>
        buffer.IsSingleSegment ? SendAsync(buffer.First) : new ValueTask(SendGatheredAsync(buffer));

    /// <summary>Sends all of <paramref name="bytes"/>: at once on the connection's own thread, asynchronously elsewhere.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> bytes)
    {
        if (OnOwnThread)
        {
            SendAllHere(bytes.Span);
            return ValueTask.CompletedTask;
        }

        return IgnoreCount(_socket.SendAsync(bytes, SocketFlags.None));
    }

    private static async ValueTask IgnoreCount(ValueTask<int> send) => await send.ConfigureAwait(false);

    /// <summary>Sends all of <paramref name="bytes"/> on the connection's own thread, waiting while the socket's buffer is full.</summary>
    private void SendAllHere(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var sent = _socket.Send(bytes, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                WaitForRoom();
                continue;
            }

            if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }

            bytes = bytes[sent..];
        }
    }

    /// <summary>Waits (poll) until the socket's buffer has room; past the drain deadline of a closing connection it gives up.</summary>
    public void WaitForRoom()
    {
        var deadline = Volatile.Read(ref _sendDeadline);
        var waitMicroseconds = -1;
        if (deadline != long.MaxValue)
        {
            waitMicroseconds = (int)Math.Min(Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline).TotalMicroseconds, int.MaxValue);
            if (waitMicroseconds <= 0)
            {
                throw new SocketException((int)SocketError.TimedOut);
            }
        }

        if (!_socket.Poll(waitMicroseconds, SelectMode.SelectWrite))
        {
            throw new SocketException((int)SocketError.TimedOut);
        }
    }

    /// <summary>
    /// A response spread over several blocks leaves in one gathering send per <see cref="SendSegmentsMax"/> blocks
    /// rather than one send per block: a fetch response of megabytes crosses the kernel's TCP path a few times, not
    /// once per block. On the connection's own thread it completes before it returns.
    /// </summary>
    private async Task SendGatheredAsync(ReadOnlySequence<byte> buffer)
    {
        foreach (var segment in buffer)
        {
            _sendSegments.Add(ArrayOf(segment));
            if (_sendSegments.Count == SendSegmentsMax)
            {
                await SendSegmentsAsync().ConfigureAwait(false);
            }
        }

        if (_sendSegments.Count > 0)
        {
            await SendSegmentsAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One gathering send of the collected blocks. On the connection's own thread what it could not take (a full
    /// buffer) follows block by block, waiting for room; elsewhere the send waits for room asynchronously.
    /// </summary>
    private async Task SendSegmentsAsync()
    {
        try
        {
            if (!OnOwnThread)
            {
                await _socket.SendAsync(_sendSegments, SocketFlags.None).ConfigureAwait(false);
                return;
            }

            var sent = (long)_socket.Send(_sendSegments, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock)
            {
                sent = 0;
            }
            else if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }

            foreach (var segment in _sendSegments)
            {
                if (sent >= segment.Count)
                {
                    sent -= segment.Count;
                    continue;
                }

                SendAllHere(segment.AsSpan((int)sent));
                sent = 0;
            }
        }
        finally
        {
            _sendSegments.Clear();
        }
    }

    private static ArraySegment<byte> ArrayOf(ReadOnlyMemory<byte> segment) =>
        MemoryMarshal.TryGetArray(segment, out var array) ? array : throw new InvalidOperationException("pipe memory is not array-backed");
}
