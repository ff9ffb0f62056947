using System.Globalization;
using Tributary.Broker.Security;

namespace Tributary.Broker.Config;

/// <summary>
/// Kafka's listener keys: <c>listeners</c> and <c>advertised.listeners</c> (<c>NAME://host:port,…</c>),
/// <c>listener.security.protocol.map</c> (NAME:PROTOCOL,…) and the per-listener keys
/// <c>listener.name.&lt;name&gt;.…</c>, whose name part is the listener's in lower case.
/// </summary>
public static class Listeners
{
    /// <summary>Kafka's default listener.security.protocol.map: each protocol's own name is a listener name.</summary>
    public const string DefaultProtocolMap = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

    public const string PerListenerPrefix = "listener.name.";

    /// <summary>Security protocols Kafka knows (SecurityProtocol).</summary>
    public static readonly IReadOnlyList<string> Protocols = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

    /// <summary>Protocols the broker serves: all of Kafka's.</summary>
    public static readonly IReadOnlyList<string> ServedProtocols = [ListenerSecurity.Plaintext, ListenerSecurity.SaslPlaintext, ListenerSecurity.Ssl, ListenerSecurity.SaslSsl];

    /// <summary>
    /// A listener list. An entry without <c>NAME://</c> is a PLAINTEXT listener. The host is an IP address or a host
    /// name (resolved when the broker starts); an empty host ("all interfaces") is refused: loopback only by default.
    /// </summary>
    public static (List<ListenerEndpoint>? Endpoints, string? Error) Parse(string key, string value)
    {
        var endpoints = new List<ListenerEndpoint>();
        foreach (var entry in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var schemeEnd = entry.IndexOf("://", StringComparison.Ordinal);
            var name = schemeEnd >= 0 ? entry[..schemeEnd].ToUpperInvariant() : ListenerSecurity.Plaintext;
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                return (null, $"{key}={value}: '{entry}' has no valid listener name (letters, digits, _ and -)");
            }

            var hostPort = schemeEnd >= 0 ? entry[(schemeEnd + 3)..] : entry;
            var colon = hostPort.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
            {
                return (null, $"{key}={value}: expected NAME://host:port");
            }

            var host = hostPort[..colon].Trim('[', ']');
            if (Uri.CheckHostName(host) == UriHostNameType.Unknown)
            {
                return (null, $"{key}={value}: '{host}' is neither an IP address nor a host name");
            }

            if (endpoints.Any(e => e.Name == name))
            {
                return (null, $"{key}={value}: listener name {name} appears twice");
            }

            endpoints.Add(new ListenerEndpoint(name, host, port));
        }

        return endpoints.Count == 0 ? (null, $"{key}={value}: expected NAME://host:port") : (endpoints, null);
    }

    /// <summary>listener.security.protocol.map: <c>NAME:PROTOCOL,…</c>, names upper-cased.</summary>
    public static (Dictionary<string, string>? Map, string? Error) ParseProtocolMap(string value)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = entry.Split(':', StringSplitOptions.TrimEntries);
            if (parts is not [{ Length: > 0 } name, var protocol] || !Protocols.Contains(protocol.ToUpperInvariant()))
            {
                return (null, $"listener.security.protocol.map={value}: expected NAME:PROTOCOL entries with a protocol of {string.Join(", ", Protocols)}, not '{entry}'");
            }

            map[name.ToUpperInvariant()] = protocol.ToUpperInvariant();
        }

        return (map, null);
    }

    /// <summary>
    /// The checks across keys, once each key is valid on its own: every listener has a served protocol, listeners
    /// have distinct ports, every advertised listener is one of them, and every TLS listener has a keystore.
    /// </summary>
    public static List<string> Validate(BrokerConfig config)
    {
        var errors = new List<string>();
        var listenersValue = config.Explicit.GetValueOrDefault("listeners") ?? ConfigTable.Find(ConfigScope.Broker, "listeners")!.Default;
        CheckProtocols("listeners", listenersValue!, config.Listeners, config.SecurityProtocolMap, errors);
        if (config.Explicit.GetValueOrDefault("advertised.listeners") is { } advertisedValue)
        {
            var before = errors.Count;
            CheckProtocols("advertised.listeners", advertisedValue, config.AdvertisedListeners, config.SecurityProtocolMap, errors);
            foreach (var advertised in config.AdvertisedListeners.Where(a => errors.Count == before && config.Listeners.All(l => l.Name != a.Name)))
            {
                errors.Add($"advertised.listeners={advertisedValue}: {advertised.Name} is not one of the listeners ({string.Join(", ", config.Listeners.Select(l => l.Name))})");
            }
        }

        foreach (var listener in config.Listeners.Where(l => config.SecurityProtocolMap.GetValueOrDefault(l.Name) is ListenerSecurity.Ssl or ListenerSecurity.SaslSsl))
        {
            if (SslSettings.For(config, listener.Name).Check() is { } error)
            {
                errors.Add(error);
            }
        }

        foreach (var port in config.Listeners.Where(l => l.Port != 0).GroupBy(l => l.Port).Where(g => g.Count() > 1))
        {
            errors.Add($"listeners={listenersValue}: listeners {string.Join(" and ", port.Select(l => l.Name))} share port {port.Key}");
        }

        return errors;
    }

    private static void CheckProtocols(string key, string value, IReadOnlyList<ListenerEndpoint> endpoints, IReadOnlyDictionary<string, string> map, List<string> errors)
    {
        foreach (var endpoint in endpoints)
        {
            if (!map.TryGetValue(endpoint.Name, out var protocol))
            {
                errors.Add($"{key}={value}: listener {endpoint.Name} has no security protocol in listener.security.protocol.map");
            }
            else if (!ServedProtocols.Contains(protocol))
            {
                errors.Add($"{key}={value}: {protocol} listeners are not supported yet (only {string.Join(", ", ServedProtocols)}); a secure listener is never served in plaintext");
            }
        }
    }

    /// <summary>The key a per-listener setting has for <paramref name="listener"/>: <c>listener.name.sasl_plaintext.</c> + suffix.</summary>
    public static string PerListenerKey(string listener, string suffix) => PerListenerPrefix + listener.ToLowerInvariant() + "." + suffix;
}
