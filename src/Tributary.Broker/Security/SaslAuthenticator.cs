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
/// </summary>
public sealed class SaslAuthenticator(ListenerSecurity listener)
{
    private State _state = State.VersionsOrHandshake;
    private ISaslExchange? _exchange;

    private enum State
    {
        VersionsOrHandshake,
        Handshake,
        Authenticate,
        RawToken,
        Complete,
        Failed,
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
            : new SaslAuthenticateResponse { ErrorCode = 0, ErrorMessage = null, AuthBytes = step.Challenge, SessionLifetimeMs = 0 };
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
        if (step.Failed)
        {
            Fail($"{_exchange.Mechanism}: {step.LogReason}");
        }
        else if (step.Complete)
        {
            Principal = "User:" + step.User;
            _state = State.Complete;
        }

        return step;
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
