using System.Globalization;
using System.Net;

namespace Tributary.Broker.Config;

/// <summary>
/// tributary.admin.listeners: the HTTP admin listener's addresses, <c>http://host:port,…</c>, empty for none. The
/// host is an IP address (0.0.0.0 or :: to listen on every interface, never implied) or <c>localhost</c>; port 0
/// picks a free port. HTTPS is not offered: the listener serves metrics and health to the local host or a scraper.
/// </summary>
public static class AdminListeners
{
    public const string Key = "tributary.admin.listeners";

    public static (IReadOnlyList<Uri>? Urls, string? Error) Parse(string value)
    {
        var urls = new List<Uri>();
        foreach (var entry in ConfigDefinition.Items(value))
        {
            if (!Uri.TryCreate(entry, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttp)
            {
                return (null, $"{Key}: '{entry}' is not http://host:port");
            }

            if (url.AbsolutePath != "/" || url.Query.Length > 0 || url.UserInfo.Length > 0)
            {
                return (null, $"{Key}: '{entry}' has more than a host and port");
            }

            if (!entry.TrimEnd('/').EndsWith(":" + url.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal))
            {
                return (null, $"{Key}: '{entry}' has no port");
            }

            var host = url.IdnHost;
            if (host != "localhost" && !IPAddress.TryParse(host, out _))
            {
                return (null, $"{Key}: '{entry}': the host must be an IP address (0.0.0.0 for every interface) or localhost");
            }

            if (host == "localhost" && url.Port == 0)
            {
                return (null, $"{Key}: '{entry}': port 0 needs an IP address (127.0.0.1), not localhost");
            }

            urls.Add(url);
        }

        return (urls, null);
    }

    /// <summary>The addresses as the key's value (for a restart on the ports bound before).</summary>
    public static string Format(IEnumerable<Uri> urls) =>
        string.Join(',', urls.Select(u => $"http://{u.Authority}"));
}
