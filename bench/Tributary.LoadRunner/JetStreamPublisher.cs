using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tributary.LoadRunner;

/// <summary>
/// NATS JetStream asynchronous publishing over NATS's text protocol, written here because Debian ships no NATS
/// client tools: the equivalent of Go's <c>PublishAsync</c> as used by <c>nats bench --js</c>. It creates a
/// file-storage stream with one replica, publishes fixed-size messages each with its own reply subject under one
/// wildcard inbox subscription, allows at most <c>--window</c> unacknowledged messages, counts the acks (a JetStream
/// ack whose JSON has an "error" counts as failed), and deletes the stream. Bounded by count and time limit.
/// </summary>
internal sealed class JetStreamPublisher : IDisposable
{
    private const string InboxPrefix = "_INBOX.load.";
    private const string Subject = "load.js";

    private readonly LoadOptions _options;
    private readonly Socket _socket;
    private readonly BufferedStream _input;
    private readonly BufferedStream _output;
    private readonly string _stream;
    private readonly long[] _sendNanos;
    private readonly SemaphoreSlim _window;
    private readonly LatencyHistogram _ackLatency = new();
    private long _latencyFromNanos = long.MaxValue;
    private readonly object _controlLock = new();
    private string? _controlReply;
    private long _acked;
    private long _failed;
    private long _lastAckNanos;
    private string? _failure;
    private long _published;
    private volatile bool _stopping;

    private JetStreamPublisher(LoadOptions options, Socket socket)
    {
        _options = options;
        _socket = socket;
        var network = new NetworkStream(socket, ownsSocket: false);
        _input = new BufferedStream(network, 64 * 1024);
        _output = new BufferedStream(network, 64 * 1024);
        _stream = $"LOAD_{options.RecordBytes}_{Environment.ProcessId}";
        _sendNanos = new long[options.RecordCount];
        _window = new SemaphoreSlim(options.Window, options.Window);
    }

    public static RunReport Run(LoadOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.RecordCount, 10_000_000);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(IPAddress.Parse(options.Host), options.Port);
        using var publisher = new JetStreamPublisher(options, socket);
        return publisher.Publish();
    }

    private RunReport Publish()
    {
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var info = ReadLine();
        if (!info.StartsWith("INFO ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"expected INFO from nats-server, got '{info}'");
        }

        WriteAscii("CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"tributary-load\",\"version\":\"0\",\"protocol\":1,\"headers\":true,\"no_responders\":true}\r\nPING\r\n");
        _output.Flush();
        var pong = ReadLine();
        if (pong != "PONG")
        {
            throw new InvalidOperationException($"expected PONG, got '{pong}'");
        }

        WriteAscii($"SUB {InboxPrefix}* 1\r\n");
        var reader = new Thread(ReadLoop) { Name = "jetstream-acks", IsBackground = true };
        reader.Start();

        var config = $"{{\"name\":\"{_stream}\",\"subjects\":[\"{Subject}\"],\"storage\":\"file\",\"retention\":\"limits\",\"num_replicas\":1}}";
        var created = Control($"$JS.API.STREAM.CREATE.{_stream}", config);
        if (created.Contains("\"error\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"stream create failed: {created}");
        }

        var startNanos = MonotonicClock.NowNanos();
        var deadline = startNanos + (_options.TimeLimitSeconds * 1_000_000_000L);
        _latencyFromNanos = startNanos + _options.WarmupNanos;
        var stoppedByTime = false;
        try
        {
            stoppedByTime = PublishAll(deadline);
        }
        catch (IOException e)
        {
            // The server closed the connection (what it said first, if anything, is already the failure).
            _failure ??= $"jetstream write: {e.Message}";
        }

        var sent = _published;
        while (Interlocked.Read(ref _acked) + Interlocked.Read(ref _failed) < sent && MonotonicClock.NowNanos() < deadline + 5_000_000_000L && _failure is null)
        {
            Thread.Sleep(1);
        }

        var acked = Interlocked.Read(ref _acked);
        var incomplete = acked + Interlocked.Read(ref _failed) < sent;
        var seconds = Math.Max(Interlocked.Read(ref _lastAckNanos) - startNanos, 1) / 1e9;
        var deleted = _failure is null ? Control($"$JS.API.STREAM.DELETE.{_stream}", "") : "";
        _stopping = true;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already closed by the server.
        }

        reader.Join(TimeSpan.FromSeconds(5));
        return new RunReport()
            .Add("label", _options.Label)
            .Add("system", "nats-jetstream")
            .Add("mode", "jetstream")
            .Add("record_bytes", _options.RecordBytes)
            .Add("window", _options.Window)
            .Add("records", acked)
            .Add("records_failed", Interlocked.Read(ref _failed))
            .Add("seconds", RunReport.Round(seconds))
            .Add("records_per_s", Math.Round(acked / seconds))
            .Add("MB_per_s", RunReport.Round(acked * (double)_options.RecordBytes / seconds / 1e6, 1))
            .AddLatency("publish", _ackLatency)
            .Add("stopped_by_time", stoppedByTime)
            .Add("produce_incomplete", incomplete)
            .Add("stream_deleted", deleted.Contains("\"success\":true", StringComparison.Ordinal))
            .Add("produce_error", _failure)
            .Add("client_cpu_s", RunReport.Round((Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds));
    }

    /// <summary>
    /// Publishes until the record count, the deadline or a failure, counting in <see cref="_published"/>; true if the
    /// deadline stopped it.
    /// </summary>
    private bool PublishAll(long deadline)
    {
        long sent = 0;
        Span<byte> digits = stackalloc byte[20];
        var pubPrefix = Encoding.ASCII.GetBytes($"PUB {Subject} {InboxPrefix}");
        var sizeSuffix = Encoding.ASCII.GetBytes($" {_options.RecordBytes}\r\n");
        var payload = new byte[_options.RecordBytes];
        payload.AsSpan().Fill((byte)'x');
        while (sent < _options.RecordCount && _failure is null)
        {
            if (!_window.Wait(0))
            {
                // Nothing more may go out until acks return: push what is buffered, then wait.
                _output.Flush();
                while (!_window.Wait(100))
                {
                    if (MonotonicClock.NowNanos() > deadline || _failure is not null)
                    {
                        break;
                    }
                }
            }

            if (MonotonicClock.NowNanos() > deadline)
            {
                _output.Flush();
                return true;
            }

            _output.Write(pubPrefix);
            Utf8Formatter.TryFormat(sent, digits, out var written);
            _output.Write(digits[..written]);
            _output.Write(sizeSuffix);
            _output.Write(payload);
            _output.Write("\r\n"u8);
            _sendNanos[sent] = MonotonicClock.NowNanos();
            sent++;
            _published = sent;
        }

        _output.Flush();
        return false;
    }

    /// <summary>One JetStream API request and its JSON reply, on the reply subject <c>_INBOX.load.control</c>.</summary>
    private string Control(string subject, string json)
    {
        lock (_controlLock)
        {
            _controlReply = null;
        }

        var body = Encoding.UTF8.GetBytes(json);
        WriteAscii($"PUB {subject} {InboxPrefix}control {body.Length}\r\n");
        _output.Write(body);
        WriteAscii("\r\n");
        _output.Flush();
        var until = MonotonicClock.NowNanos() + 10_000_000_000L;
        lock (_controlLock)
        {
            while (_controlReply is null && _failure is null && MonotonicClock.NowNanos() < until)
            {
                Monitor.Wait(_controlLock, 100);
            }

            return _controlReply ?? throw new TimeoutException($"no reply to {subject}: {_failure}");
        }
    }

    private void ReadLoop()
    {
        try
        {
            while (!_stopping)
            {
                var line = ReadLine();
                if (line.StartsWith("MSG ", StringComparison.Ordinal) || line.StartsWith("HMSG ", StringComparison.Ordinal))
                {
                    OnMessage(line);
                }
                else if (line == "PING")
                {
                    lock (_output)
                    {
                        // The publisher thread writes too; a PONG is rare enough to take the hit of a lock here.
                        WriteAscii("PONG\r\n");
                    }
                }
                else if (line.StartsWith("-ERR", StringComparison.Ordinal))
                {
                    _failure ??= line;
                }
            }
        }
        catch (Exception e) when (!_stopping)
        {
            _failure ??= $"jetstream read: {e.GetType().Name}: {e.Message}";
        }
        catch (Exception) when (_stopping)
        {
            // The socket was shut down at the end of the run.
        }
    }

    private void OnMessage(string line)
    {
        // MSG <subject> <sid> [reply] <#bytes>  |  HMSG <subject> <sid> [reply] <#header bytes> <#total bytes>
        var parts = line.Split(' ');
        var size = int.Parse(parts[^1], System.Globalization.CultureInfo.InvariantCulture);
        var body = new byte[size + 2];
        _input.ReadExactly(body);
        var now = MonotonicClock.NowNanos();
        var subject = parts[1];
        var token = subject[InboxPrefix.Length..];
        if (token == "control")
        {
            lock (_controlLock)
            {
                _controlReply = Encoding.UTF8.GetString(body, 0, size);
                Monitor.PulseAll(_controlLock);
            }

            return;
        }

        var sequence = long.Parse(token, System.Globalization.CultureInfo.InvariantCulture);
        if (body.AsSpan(0, size).IndexOf("\"error\""u8) >= 0)
        {
            Interlocked.Increment(ref _failed);
            _failure ??= Encoding.UTF8.GetString(body, 0, size);
        }
        else
        {
            Interlocked.Increment(ref _acked);
        }

        if (_sendNanos[sequence] >= _latencyFromNanos)
        {
            _ackLatency.Record(now - _sendNanos[sequence]);
        }

        Interlocked.Exchange(ref _lastAckNanos, now);
        _window.Release();
    }

    private string ReadLine()
    {
        var line = new StringBuilder();
        while (true)
        {
            var b = _input.ReadByte();
            if (b < 0)
            {
                throw new EndOfStreamException("nats-server closed the connection");
            }

            if (b == '\n')
            {
                return line.ToString().TrimEnd('\r');
            }

            line.Append((char)b);
        }
    }

    private void WriteAscii(string text) => _output.Write(Encoding.ASCII.GetBytes(text));

    public void Dispose()
    {
        // The output first: disposing it flushes what it still holds, which needs the stream both share open. On a
        // connection that broke, that flush fails; the run's outcome is already decided, so it must not replace it.
        try
        {
            _output.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }

        _input.Dispose();
        _socket.Dispose();
        _window.Dispose();
    }
}
