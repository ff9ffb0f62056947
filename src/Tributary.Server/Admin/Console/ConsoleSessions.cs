using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Tributary.Broker.Dispatch;
using ConnectionInfo = Tributary.Broker.Dispatch.ConnectionInfo;

namespace Tributary.Server.Admin.Console;

/// <summary>
/// Logged-in console users: a random session id in an HttpOnly, SameSite=Strict cookie, and per session a CSRF token
/// the page sends back in a header on every change (a cross-site page can neither read the token nor set the header).
/// Sessions end after <see cref="SessionIdleMsMax"/> without a request; at most <see cref="SessionsMax"/> are kept,
/// the least recently used going first.
/// </summary>
internal sealed class ConsoleSessions(Func<TimeProvider> time)
{
    public const string CookieName = "tributary-console";

    public const string CsrfHeader = "X-Console-Csrf";

    public const int SessionsMax = 1_000;

    public const long SessionIdleMsMax = 3_600_000;

    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    public sealed class Session(ConnectionInfo connection, string csrfToken, long lastUsedMs)
    {
        public ConnectionInfo Connection { get; } = connection;

        public string CsrfToken { get; } = csrfToken;

        public long LastUsedMs { get; set; } = lastUsedMs;
    }

    public Session Create(HttpContext http, ConnectionInfo connection)
    {
        var now = time().GetUtcNow().ToUnixTimeMilliseconds();
        while (_sessions.Count >= SessionsMax && _sessions.MinBy(s => s.Value.LastUsedMs) is { Key: { } oldest })
        {
            _sessions.TryRemove(oldest, out _);
        }

        var id = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var session = new Session(connection, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), now);
        _sessions[id] = session;
        http.Response.Cookies.Append(CookieName, id, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = http.Request.IsHttps,
            Path = "/console",
        });
        return session;
    }

    public Session? Find(HttpContext http)
    {
        if (http.Request.Cookies[CookieName] is not { } id || !_sessions.TryGetValue(id, out var session))
        {
            return null;
        }

        var now = time().GetUtcNow().ToUnixTimeMilliseconds();
        if (now - session.LastUsedMs > SessionIdleMsMax || session.Connection.Authenticator is { SessionExpired: true })
        {
            _sessions.TryRemove(id, out _);
            return null;
        }

        session.LastUsedMs = now;
        return session;
    }

    public void End(HttpContext http)
    {
        if (http.Request.Cookies[CookieName] is { } id)
        {
            _sessions.TryRemove(id, out _);
        }

        http.Response.Cookies.Delete(CookieName, new CookieOptions { Path = "/console" });
    }
}
