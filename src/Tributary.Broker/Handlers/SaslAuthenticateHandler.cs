using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// SaslAuthenticate v0-2 (KIP-152).
// Behaviour:
// - On a SASL listener after SaslHandshake v1: one token of the mechanism's exchange (SaslAuthenticator); a failure
//   is SASL_AUTHENTICATION_FAILED with a message naming no secret, sent after connection.failed.authentication.delay.ms,
//   then the connection is closed.
// - During re-authentication (KIP-368, begun by a SaslHandshake on a session that ends): the same, and the
//   principal must not change.
// - On a PLAINTEXT listener, or after authentication: ILLEGAL_SASL_STATE, as Kafka's KafkaApis answers.
// Versions:
// - v1+ carry session_lifetime_ms once the exchange completes: the time until connections.max.reauth.ms or the
//   credential's expiry (an OAUTHBEARER token's exp), whichever is first; 0 when the session never ends.
public sealed class SaslAuthenticateHandler() : ApiHandler<SaslAuthenticateRequest, SaslAuthenticateResponse>(ApiKey.SaslAuthenticate, 0, 2)
{
    protected override ValueTask<HandlerResult<SaslAuthenticateResponse>> HandleAsync(RequestContext context, SaslAuthenticateRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult<HandlerResult<SaslAuthenticateResponse>>(context.Connection.Authenticator is { IsComplete: false } authenticator
            ? authenticator.Authenticate(request.AuthBytes)
            : new SaslAuthenticateResponse
            {
                ErrorCode = (short)ErrorCode.IllegalSaslState,
                ErrorMessage = "SaslAuthenticate request received after successful authentication",
                AuthBytes = [],
            });

    protected override SaslAuthenticateResponse? ErrorResponse(RequestContext context, SaslAuthenticateRequest request, ErrorCode error) =>
        new() { ErrorCode = (short)error, ErrorMessage = null, AuthBytes = [] };
}
