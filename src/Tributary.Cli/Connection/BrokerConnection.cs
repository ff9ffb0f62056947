using System.Security.Authentication;
using System.Text;
using Tributary.Broker.Security;
using Tributary.Cli.Commands;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.Server.Client;

namespace Tributary.Cli.Connection;

/// <summary>
/// Opens the CLI's connections as <see cref="ClientSecurity"/> says: TCP, then the TLS handshake (SSL, SASL_SSL), then
/// the SASL login (SaslHandshake v1, then SaslAuthenticate v2 carrying the mechanism's messages, KIP-152) before any
/// other request. A refused login or handshake is a <see cref="CliException"/> of one line.
/// </summary>
internal static class BrokerConnection
{
    private const short SaslHandshakeVersion = 1;
    private const short SaslAuthenticateVersion = 2;

    public static async Task<KafkaWireClient> ConnectAsync(string address, ClientSecurity security, CancellationToken cancellationToken)
    {
        KafkaWireClient client;
        try
        {
            var host = address[..Math.Max(address.LastIndexOf(':'), 0)];
            client = await KafkaWireClient.ConnectAsync(address, security.UsesTls ? security.TlsOptions(host) : null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AuthenticationException || (e is IOException && security.UsesTls))
        {
            throw new CliException($"TLS handshake with {address} failed: {e.Message}");
        }

        if (security.Mechanism is null)
        {
            return client;
        }

        try
        {
            await LogInAsync(client, security.Mechanism, security.Username!, security.Password!, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task LogInAsync(KafkaWireClient client, string mechanism, string username, string password, CancellationToken cancellationToken)
    {
        var handshake = await client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(
            ApiKey.SaslHandshake, SaslHandshakeVersion, new SaslHandshakeRequest { Mechanism = mechanism }, cancellationToken).ConfigureAwait(false);
        if (handshake.ErrorCode == (short)ErrorCode.UnsupportedSaslMechanism)
        {
            throw new CliException($"the broker does not offer {mechanism} (it offers {string.Join(", ", handshake.Mechanisms)})");
        }

        AdminClient.Check(handshake.ErrorCode, null, $"SASL handshake ({mechanism})");
        if (mechanism == SaslMechanisms.Plain)
        {
            // RFC 4616: [authzid] NUL authcid NUL passwd, with no authorization identity.
            await AuthenticateAsync(client, Encoding.UTF8.GetBytes($"\0{username}\0{password}"), username, mechanism, cancellationToken).ConfigureAwait(false);
            return;
        }

        var scram = new ScramClient(mechanism, username, password);
        var serverFirst = await AuthenticateAsync(client, scram.ClientFirst(), username, mechanism, cancellationToken).ConfigureAwait(false);
        var serverFinal = await AuthenticateAsync(client, scram.ClientFinal(serverFirst), username, mechanism, cancellationToken).ConfigureAwait(false);
        scram.CheckServerFinal(serverFinal);
    }

    private static async Task<byte[]> AuthenticateAsync(KafkaWireClient client, byte[] token, string username, string mechanism, CancellationToken cancellationToken)
    {
        var response = await client.SendAsync<SaslAuthenticateRequest, SaslAuthenticateResponse>(
            ApiKey.SaslAuthenticate, SaslAuthenticateVersion, new SaslAuthenticateRequest { AuthBytes = token }, cancellationToken).ConfigureAwait(false);
        AdminClient.Check(response.ErrorCode, response.ErrorMessage, $"logging in as '{username}' with {mechanism}");
        return response.AuthBytes;
    }
}
