using Tributary.Broker.Dispatch;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Broker.Handlers;

// ApiVersions v0-4.
// Behaviour:
// - Answers from the dispatcher's handler table.
// - Unsupported versions are answered by the dispatcher itself (KIP-511: a v0 response with UNSUPPORTED_VERSION and
//   the supported ranges).
public sealed class ApiVersionsHandler(Func<RequestDispatcher> dispatcher) : ApiHandler<ApiVersionsRequest, ApiVersionsResponse>(ApiKey.ApiVersions, 0, 4)
{
    protected override ValueTask<HandlerResult<ApiVersionsResponse>> HandleAsync(RequestContext context, ApiVersionsRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult<HandlerResult<ApiVersionsResponse>>(dispatcher().ApiVersionsTable(ErrorCode.None));

    protected override ApiVersionsResponse? ErrorResponse(RequestContext context, ApiVersionsRequest request, ErrorCode error) =>
        dispatcher().ApiVersionsTable(error);
}
