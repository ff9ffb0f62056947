using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Security;

namespace Tributary.Server.Networking;

/// <summary>
/// TLS on an SSL or SASL_SSL listener, between the transport and <see cref="KafkaConnectionHandler"/>: an
/// <see cref="SslStream"/> straight over the socket (a <see cref="SocketStreamConnection"/> offers it; otherwise over
/// the transport's pipes), and new pipes over the SslStream for the handler. Kestrel's own
/// TLS middleware is HTTPS's (it offers HTTP's ALPN protocols and logs failures at Debug); this one logs each refused
/// connection with its reason.
/// A handshake must complete within tributary.ssl.handshake.timeout.ms; its first byte must open a TLS handshake
/// record (a plaintext Kafka request is named as such). A client certificate is mapped to its principal with
/// ssl.principal.mapping.rules (<see cref="TlsSession"/>); one no rule maps is refused, as Kafka refuses it.
/// File ranges of a fetch cannot be sent with sendfile through TLS: the handler's output here is not an
/// <c>IFileRangeWriter</c>, so they are read straight into the output's pooled buffers and encrypted from there.
/// </summary>
internal sealed partial class TlsConnectionMiddleware(ConnectionDelegate next, string listener, TlsServerContext tls, TimeSpan handshakeTimeout, ILogger logger)
{
    /// <summary>Bytes the handler's pipes over the SslStream take per buffer: room for several 16 KiB TLS records.</summary>
    private const int PipeBufferBytes = 64 * 1024;

    // The content type of a TLS handshake record (RFC 8446 §5.1).
    private const byte HandshakeRecord = 0x16;

    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        var transport = connection.Transport;
        var loaded = tls.Current();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        deadline.CancelAfter(handshakeTimeout);
        // Straight over the socket where the transport offers it (SocketStreamConnection), else over its pipes.
        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        var ssl = new SslStream(socket is null ? new PipeStream(transport) : new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        var firstByteSeen = false;
        try
        {
            try
            {
                // The first byte tells a TLS client from a plaintext one before the handshake tries to parse it.
                if (await FirstByteAsync(transport, socket, deadline.Token).ConfigureAwait(false) is not { } first)
                {
                    return;
                }

                firstByteSeen = true;
                var opensHandshake = first == HandshakeRecord;
                if (!opensHandshake)
                {
                    LogRefused(connection.ConnectionId, listener, "the client does not speak TLS (a plaintext client on a TLS listener?)");
                    return;
                }

                await ssl.AuthenticateAsServerAsync(loaded.Options, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!connection.ConnectionClosed.IsCancellationRequested)
            {
                // A connection that sent nothing is an idle probe (a port check, a peer's crash watch), not a client
                // whose handshake stalled: closed all the same, but not worth a warning.
                if (firstByteSeen)
                {
                    LogHandshakeTimeout(connection.ConnectionId, listener, (long)handshakeTimeout.TotalMilliseconds);
                }
                else
                {
                    LogIdleClosed(connection.ConnectionId, listener, (long)handshakeTimeout.TotalMilliseconds);
                }

                return;
            }
            catch (Exception e) when (e is AuthenticationException or IOException or SocketException)
            {
                if (!connection.ConnectionClosed.IsCancellationRequested)
                {
                    LogRefused(connection.ConnectionId, listener, "TLS handshake failed: " + (e.InnerException?.Message is { } inner ? e.Message + " " + inner : e.Message));
                }

                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            string? principal = null;
            if (ssl.RemoteCertificate is { } certificate)
            {
                using var owned = certificate as X509Certificate2 is null ? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()) : null;
                var subject = SslPrincipalMapper.Rfc2253((owned ?? (X509Certificate2)certificate).SubjectName);
                if (loaded.Mapper.Map(subject) is not { } name)
                {
                    LogRefused(connection.ConnectionId, listener, $"no rule of ssl.principal.mapping.rules maps the client certificate's subject {subject}");
                    return;
                }

                principal = "User:" + name;
            }

            LogHandshake(connection.ConnectionId, listener, ssl.SslProtocol, principal ?? ConnectionInfo.AnonymousPrincipal);
            connection.Features.Set(new TlsSession(ssl.SslProtocol, principal));
            var input = PipeReader.Create(ssl, new StreamPipeReaderOptions(MemoryPool<byte>.Shared, PipeBufferBytes, PipeBufferBytes / 4, leaveOpen: true, useZeroByteReads: true));
            var output = PipeWriter.Create(ssl, new StreamPipeWriterOptions(MemoryPool<byte>.Shared, PipeBufferBytes, leaveOpen: true));
            connection.Transport = new DuplexPipe(input, output);
            try
            {
                await next(connection).ConfigureAwait(false);
            }
            finally
            {
                connection.Transport = transport;
                await input.CompleteAsync().ConfigureAwait(false);
                try
                {
                    await output.CompleteAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or ConnectionResetException or ObjectDisposedException or OperationCanceledException)
                {
                    // The connection broke; what was not sent is lost with it.
                }
            }
        }
        finally
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The connection's first byte, left unread for the handshake; null when the client closes first.</summary>
    private static async ValueTask<byte?> FirstByteAsync(IDuplexPipe transport, Socket? socket, CancellationToken cancellationToken)
    {
        if (socket is not null)
        {
            var peek = new byte[1];
            var received = await socket.ReceiveAsync(peek, SocketFlags.Peek, cancellationToken).ConfigureAwait(false);
            return received == 0 ? null : peek[0];
        }

        var first = await transport.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (first.Buffer.IsEmpty)
        {
            transport.Input.AdvanceTo(first.Buffer.End);
            return null;
        }

        var value = first.Buffer.FirstSpan[0];
        transport.Input.AdvanceTo(first.Buffer.Start);
        return value;
    }

    [LoggerMessage(EventId = 322, Level = LogLevel.Warning, Message = "Closing connection {ConnectionId} on listener {Listener}: {Reason}")]
    private partial void LogRefused(string connectionId, string listener, string reason);

    [LoggerMessage(EventId = 323, Level = LogLevel.Warning,
        Message = "Closing connection {ConnectionId} on listener {Listener}: its TLS handshake did not complete within tributary.ssl.handshake.timeout.ms ({TimeoutMs} ms)")]
    private partial void LogHandshakeTimeout(string connectionId, string listener, long timeoutMs);

    [LoggerMessage(EventId = 326, Level = LogLevel.Debug,
        Message = "Closing connection {ConnectionId} on listener {Listener}: it sent nothing within tributary.ssl.handshake.timeout.ms ({TimeoutMs} ms)")]
    private partial void LogIdleClosed(string connectionId, string listener, long timeoutMs);

    [LoggerMessage(EventId = 324, Level = LogLevel.Debug, Message = "Connection {ConnectionId} on listener {Listener}: {Protocol} as {Principal}")]
    private partial void LogHandshake(string connectionId, string listener, SslProtocols protocol, string principal);
}
