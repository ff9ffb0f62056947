using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Security;

/// <summary>What the dispatcher does with a request that arrives before authentication is complete.</summary>
public enum SaslGate
{
    /// <summary>Serve it (ApiVersions, SaslHandshake, SaslAuthenticate in their turn).</summary>
    Serve,

    /// <summary>Close the connection without an answer.</summary>
    Close,

    /// <summary>Answer the request with ILLEGAL_SASL_STATE, then close.</summary>
    AnswerIllegalStateAndClose,
}

/// <summary>
/// One SASL_PLAINTEXT connection's authentication, as Kafka's SaslServerAuthenticator runs it (KIP-43, KIP-152):
/// ApiVersions (optional, once) → SaslHandshake → SaslAuthenticate until the mechanism completes (handshake v1), or
/// raw size-prefixed tokens without Kafka headers (handshake v0, what old clients send). Until it is complete
/// nothing else is served: another request closes the connection. Any failure leaves it <see cref="Failed"/>, and
/// the dispatcher answers and closes after connection.failed.authentication.delay.ms.
/// Re-authentication (KIP-368): a completed session expires after connections.max.reauth.ms or at the credential's
/// expiry (an OAUTHBEARER token's exp), whichever is first; SaslAuthenticate v1+ tells the client how long it has. A
/// SaslHandshake on a session that expires starts the exchange again (at most once a second, as Kafka allows), with
/// the same mechanism and principal or the connection is closed; a request on an expired session closes it.
/// </summary>
public sealed class SaslAuthenticator(ListenerSecurity listener)
{
    /// <summary>Kafka's MIN_REAUTH_INTERVAL_ONE_SECOND_NANOS: a client re-authenticates at most once a second.</summary>
    public const long ReauthenticationIntervalMsMin = 1000;

    private State _state = State.VersionsOrHandshake;
    private ISaslExchange? _exchange;
    private string? _previousMechanism;
    private long? _reauthenticationStartedMs;
    private string? _badMechanismMessage;
    private long _sessionLifetimeMs;

    private enum State
    {
        VersionsOrHandshake,
        Handshake,
        Authenticate,
        RawToken,
        Complete,
        Failed,

        /// <summary>Re-authentication asked for another mechanism: the handshake was answered, the next frame closes.</summary>
        ReauthBadMechanism,
    }

    public ListenerSecurity Listener => listener;

    public bool IsComplete => _state == State.Complete;

    public bool Failed => _state == State.Failed;

    /// <summary>After SaslHandshake v0 the next frame is a bare token, not a Kafka request.</summary>
    public bool ExpectsRawToken => _state == State.RawToken;

    /// <summary>The authenticated principal (User:alice); null until authentication completes.</summary>
    public string? Principal { get; private set; }

    /// <summary>Why authentication failed, for the log: no password, proof or token is in it.</summary>
    public string? FailureReason { get; private set; }

    /// <summary>Whether the latest exchange re-authenticates a session (KIP-368) rather than starting one.</summary>
    public bool Reauthenticating => _previousMechanism is not null;

    /// <summary>When the authenticated session ends, in ms since the epoch; null when it never does.</summary>
    public long? SessionExpiresAtMs { get; private set; }

    private long NowMs => listener.Time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Whether the completed session is past its end: its next request, other than a re-authentication, closes it.</summary>
    public bool SessionExpired => _state == State.Complete && SessionExpiresAtMs is { } end && NowMs > end;

    /// <summary>
    /// A SaslHandshake arrived on an authenticated connection: begins re-authentication if the session has an end
    /// and the last re-authentication began at least a second ago, as Kafka's KafkaChannel allows. Otherwise the
    /// handshake is served as any request after authentication (ILLEGAL_SASL_STATE).
    /// </summary>
    public bool TryBeginReauthentication()
    {
        var now = NowMs;
        if (_state != State.Complete || SessionExpiresAtMs is null
            || (_reauthenticationStartedMs is { } last && now - last < ReauthenticationIntervalMsMin))
        {
            return false;
        }

        _reauthenticationStartedMs = now;
        _previousMechanism = _exchange!.Mechanism;
        _state = State.Handshake;
        return true;
    }

    /// <summary>Whether a request of <paramref name="key"/> may be served now; a refusal fails the authentication.</summary>
    public SaslGate Admit(ApiKey key)
    {
        switch (_state, key)
        {
            case (State.VersionsOrHandshake, ApiKey.ApiVersions):
                _state = State.Handshake;
                return SaslGate.Serve;
            case (State.VersionsOrHandshake or State.Handshake, ApiKey.SaslHandshake):
            case (State.Authenticate, ApiKey.SaslAuthenticate):
                return SaslGate.Serve;
            case (State.Authenticate, _):
                Fail($"unexpected {key} request during SASL authentication");
                return SaslGate.AnswerIllegalStateAndClose;
            case (State.ReauthBadMechanism, _):
                Fail(_badMechanismMessage!);
                return SaslGate.Close;
            default:
                Fail($"unexpected {key} request during SASL handshake");
                return SaslGate.Close;
        }
    }

    /// <summary>SaslHandshake: picks the mechanism; v0 switches the connection to raw tokens.</summary>
    public SaslHandshakeResponse Handshake(string mechanism, short version)
    {
        var enabled = listener.Mechanisms.ToList();
        if (_state is not (State.VersionsOrHandshake or State.Handshake))
        {
            Fail("SaslHandshake received twice");
            return new SaslHandshakeResponse { ErrorCode = (short)ErrorCode.IllegalSaslState, Mechanisms = enabled };
        }

        if (!enabled.Contains(mechanism, StringComparer.Ordinal))
        {
            Fail($"client asked for SASL mechanism '{mechanism}', which is not enabled on listener {listener.Name}");
            return new SaslHandshakeResponse { ErrorCode = (short)ErrorCode.UnsupportedSaslMechanism, Mechanisms = enabled };
        }

        // Kafka answers the handshake and fails the re-authentication on the next frame (REAUTH_BAD_MECHANISM).
        if (_previousMechanism is { } previous && previous != mechanism)
        {
            _badMechanismMessage = $"SASL mechanism '{mechanism}' requested by client is not supported for re-authentication of mechanism '{previous}'";
            _state = State.ReauthBadMechanism;
            return new SaslHandshakeResponse { ErrorCode = 0, Mechanisms = enabled };
        }

        _exchange = listener.NewExchange(mechanism);
        _state = version == 0 ? State.RawToken : State.Authenticate;
        return new SaslHandshakeResponse { ErrorCode = 0, Mechanisms = enabled };
    }

    /// <summary>SaslAuthenticate: one token of the mechanism's exchange.</summary>
    public SaslAuthenticateResponse Authenticate(byte[] token)
    {
        if (_state != State.Authenticate)
        {
            Fail("SaslAuthenticate before SaslHandshake");
            return new SaslAuthenticateResponse { ErrorCode = (short)ErrorCode.IllegalSaslState, ErrorMessage = "SaslAuthenticate received before SaslHandshake", AuthBytes = [] };
        }

        var step = Step(token);
        return step.Failed
            ? new SaslAuthenticateResponse { ErrorCode = (short)ErrorCode.SaslAuthenticationFailed, ErrorMessage = step.Error, AuthBytes = [] }
            : new SaslAuthenticateResponse { ErrorCode = 0, ErrorMessage = null, AuthBytes = step.Challenge, SessionLifetimeMs = step.Complete ? _sessionLifetimeMs : 0 };
    }

    /// <summary>A bare token after SaslHandshake v0: the challenge to send back size-prefixed, or null when it failed.</summary>
    public byte[]? RawToken(ReadOnlySpan<byte> token)
    {
        var step = Step(token);
        return step.Failed ? null : step.Challenge;
    }

    private SaslStep Step(ReadOnlySpan<byte> token)
    {
        var step = _exchange!.Evaluate(token);
        if (step.Complete && Reauthenticating && "User:" + step.User != Principal)
        {
            step = SaslStep.Fail(
                $"Cannot change principals during re-authentication from User.{Principal!["User:".Length..]}: User.{step.User}",
                $"re-authentication of {Principal} as User:{step.User}");
        }

        if (step.Failed)
        {
            Fail($"{_exchange.Mechanism}: {step.LogReason}");
        }
        else if (step.Complete)
        {
            Principal = "User:" + step.User;
            _state = State.Complete;
            StartSession(step.CredentialExpiresAtMs);
        }

        return step;
    }

    // Kafka's ReauthInfo.calcCompletionTimesAndReturnSessionLifetimeMs: the session ends at the credential's expiry or
    // after connections.max.reauth.ms, whichever is first; with neither it never ends (lifetime 0 to the client).
    private void StartSession(long? credentialExpiresAtMs)
    {
        var now = NowMs;
        var maxReauthMs = listener.ConnectionsMaxReauthMs(_exchange!.Mechanism);
        if (credentialExpiresAtMs is null && maxReauthMs <= 0)
        {
            SessionExpiresAtMs = null;
            _sessionLifetimeMs = 0;
            return;
        }

        var untilExpiryMs = credentialExpiresAtMs is { } expiresAt ? expiresAt - now : long.MaxValue;
        _sessionLifetimeMs = Math.Max(0, maxReauthMs > 0 ? Math.Min(untilExpiryMs, maxReauthMs) : untilExpiryMs);
        SessionExpiresAtMs = now + _sessionLifetimeMs;
    }

    private void Fail(string reason)
    {
        _state = State.Failed;
        FailureReason = reason;
    }

    /// <summary>
    /// connection.failed.authentication.delay.ms: a failure is answered, and the connection closed, after this (it
    /// slows password guessing). Never throws: the connection waits for it as for a produce's fsync.
    /// </summary>
    public Task FailureDelayAsync() =>
        listener.FailedAuthenticationDelay > TimeSpan.Zero ? Task.Delay(listener.FailedAuthenticationDelay, listener.Time) : Task.CompletedTask;
}
