using System.Security.Authentication;
using Tributary.Cli.Commands;
using Tributary.Server.Client;

namespace Tributary.Cli.Connection;

/// <summary>
/// Opens the CLI's connections as <see cref="ClientSecurity"/> says: TCP, then the TLS handshake (SSL, SASL_SSL), then
/// the SASL login (SaslHandshake v1, then SaslAuthenticate v2 carrying the mechanism's messages, KIP-152) before any
/// other request (<see cref="SaslClientLogin"/>). A refused login or handshake is a <see cref="CliException"/> of one line.
/// </summary>
internal static class BrokerConnection
{
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
            await SaslClientLogin.LogInAsync(client, security.Mechanism, security.Username!, security.Password!, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch (SaslLoginException e)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw new CliException(e.Message);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
