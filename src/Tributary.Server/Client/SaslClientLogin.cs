using System.Text;
using Tributary.Broker.Security;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Server.Client;

/// <summary>
/// The client's SASL login on a fresh connection, before any other request: SaslHandshake v1, then SaslAuthenticate v2
/// carrying the mechanism's messages (KIP-152). PLAIN and SCRAM-SHA-256/512. Used by the CLI and by inter-broker
/// connections; a refusal is a <see cref="SaslLoginException"/> of one line.
/// </summary>
public static class SaslClientLogin
{
    public const short HandshakeVersion = 1;
    public const short AuthenticateVersion = 2;

    public static async Task LogInAsync(KafkaWireClient client, string mechanism, string username, string password, CancellationToken cancellationToken)
    {
        var handshake = await client.SendAsync<SaslHandshakeRequest, SaslHandshakeResponse>(
            ApiKey.SaslHandshake, HandshakeVersion, new SaslHandshakeRequest { Mechanism = mechanism }, cancellationToken).ConfigureAwait(false);
        if (handshake.ErrorCode == (short)ErrorCode.UnsupportedSaslMechanism)
        {
            throw new SaslLoginException($"the broker does not offer {mechanism} (it offers {string.Join(", ", handshake.Mechanisms)})");
        }

        Check(handshake.ErrorCode, null, $"SASL handshake ({mechanism})");
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
            ApiKey.SaslAuthenticate, AuthenticateVersion, new SaslAuthenticateRequest { AuthBytes = token }, cancellationToken).ConfigureAwait(false);
        Check(response.ErrorCode, response.ErrorMessage, $"logging in as '{username}' with {mechanism}");
        return response.AuthBytes;
    }

    private static void Check(short errorCode, string? message, string what)
    {
        if (errorCode != 0)
        {
            var described = string.IsNullOrEmpty(message) ? ((ErrorCode)errorCode).ToString() : $"{(ErrorCode)errorCode} ({message})";
            throw new SaslLoginException($"{what}: {described}");
        }
    }
}
