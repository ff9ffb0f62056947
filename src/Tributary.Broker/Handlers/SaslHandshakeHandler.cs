using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// SaslHandshake v0-1 (KIP-43, KIP-152).
// Behaviour:
// - On a SASL listener before authentication: picks the mechanism (SaslAuthenticator); one that is not enabled on
//   the listener gets UNSUPPORTED_SASL_MECHANISM with the enabled list, and the connection is closed.
// - After authentication, on a session that ends (KIP-368) and at most once a second: begins re-authentication
//   (the dispatcher asks SaslAuthenticator); another mechanism than the session's is answered, then the next frame
//   closes the connection, as Kafka does.
// - On a PLAINTEXT listener, or after authentication otherwise: ILLEGAL_SASL_STATE, as Kafka's KafkaApis answers.
// Versions:
// - v0: the tokens that follow are bare size-prefixed frames; v1: they come in SaslAuthenticate requests.
public sealed class SaslHandshakeHandler() : ApiHandler<SaslHandshakeRequest, SaslHandshakeResponse>(ApiKey.SaslHandshake, 0, 1)
{
    protected override ValueTask<HandlerResult<SaslHandshakeResponse>> HandleAsync(RequestContext context, SaslHandshakeRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult<HandlerResult<SaslHandshakeResponse>>(context.Connection.Authenticator is { IsComplete: false } authenticator
            ? authenticator.Handshake(request.Mechanism, context.ApiVersion)
            : new SaslHandshakeResponse { ErrorCode = (short)ErrorCode.IllegalSaslState, Mechanisms = [] });

    protected override SaslHandshakeResponse? ErrorResponse(RequestContext context, SaslHandshakeRequest request, ErrorCode error) =>
        new() { ErrorCode = (short)error, Mechanisms = [] };
}
