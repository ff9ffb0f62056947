using System.Globalization;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Tributary.Broker.Cluster;

namespace Tributary.Server.Client;

/// <summary>
/// Opens this broker's connections to its peers (replica fetchers, transaction markers, share-group state) as
/// <see cref="InterBrokerSecurity"/> says: to the peer's registered endpoint of the inter-broker listener, then the TLS
/// handshake, then the SASL login. Every failure is logged with its cause and thrown as
/// <see cref="InterBrokerConnectException"/>; the callers retry.
/// </summary>
public sealed partial class InterBrokerConnector(InterBrokerSecurity security, ILogger<InterBrokerConnector> logger)
{
    public InterBrokerSecurity Security => security;

    /// <summary>A connection to <paramref name="target"/>, authenticated, whose requests carry <paramref name="clientId"/>.</summary>
    public async Task<KafkaWireClient> ConnectAsync(ClusterBroker target, string clientId, CancellationToken cancellationToken)
    {
        var endpoint = target.Endpoints.FirstOrDefault(e => e.Listener == security.Listener);
        if (endpoint is null)
        {
            var registered = string.Join(", ", target.Endpoints.Select(e => e.Listener));
            LogNoEndpoint(target.NodeId, security.Listener, registered);
            throw new InterBrokerConnectException($"broker {target.NodeId} registered no endpoint of the inter-broker listener {security.Listener} (it registered {registered})");
        }

        var address = $"{endpoint.Host}:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";
        KafkaWireClient client;
        try
        {
            client = await KafkaWireClient.ConnectAsync(address, security.TlsOptions(endpoint.Host), cancellationToken).ConfigureAwait(false);
        }
        catch (AuthenticationException e)
        {
            LogTlsFailed(target.NodeId, address, security.Listener, e.Message);
            throw new InterBrokerConnectException($"TLS handshake with broker {target.NodeId} at {address} failed: {e.Message}", e);
        }

        client.ClientId = clientId;
        if (security.Mechanism is not { } mechanism)
        {
            return client;
        }

        try
        {
            await SaslClientLogin.LogInAsync(client, mechanism, security.Username!, security.Password!, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch (SaslLoginException e)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            LogLoginRefused(target.NodeId, address, security.Listener, e.Message);
            throw new InterBrokerConnectException($"broker {target.NodeId} at {address} refused this broker's login: {e.Message}", e);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    [LoggerMessage(EventId = 1150, Level = LogLevel.Error, Message = "Broker {NodeId} registered no endpoint of the inter-broker listener {Listener} (it registered: {Registered}); every broker must have it; retrying")]
    private partial void LogNoEndpoint(int nodeId, string listener, string registered);

    [LoggerMessage(EventId = 1151, Level = LogLevel.Error, Message = "TLS handshake with broker {NodeId} at {Address} (inter-broker listener {Listener}) failed: {Reason}; retrying")]
    private partial void LogTlsFailed(int nodeId, string address, string listener, string reason);

    [LoggerMessage(EventId = 1152, Level = LogLevel.Error, Message = "Broker {NodeId} at {Address} (inter-broker listener {Listener}) refused this broker's login: {Reason}; retrying")]
    private partial void LogLoginRefused(int nodeId, string address, string listener, string reason);
}
