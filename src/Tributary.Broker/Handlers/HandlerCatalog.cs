using Microsoft.Extensions.Logging;
using Tributary.Broker.Dispatch;

namespace Tributary.Broker.Handlers;

/// <summary>Every API this broker serves, beside the handlers: ApiVersions advertises exactly this list.</summary>
public static class HandlerCatalog
{
    public static RequestDispatcher CreateDispatcher(BrokerCore broker, ILoggerFactory loggerFactory)
    {
        RequestDispatcher? dispatcher = null;
        IApiHandler[] handlers =
        [
            new ApiVersionsHandler(() => dispatcher!),
            new SaslHandshakeHandler(),
            new SaslAuthenticateHandler(),
            new MetadataHandler(broker),
            new ProduceHandler(broker, loggerFactory.CreateLogger<ProduceHandler>()),
            new FetchHandler(broker),
            new ListOffsetsHandler(broker),
            new OffsetForLeaderEpochHandler(broker),

            // Topic and cluster administration.
            new CreateTopicsHandler(broker),
            new DeleteTopicsHandler(broker),
            new CreatePartitionsHandler(broker),
            new DescribeConfigsHandler(broker),
            new AlterConfigsHandler(broker),
            new IncrementalAlterConfigsHandler(broker),
            new DescribeClusterHandler(broker),
            new DescribeLogDirsHandler(broker),
            new DeleteRecordsHandler(broker),
            new DescribeUserScramCredentialsHandler(broker),
            new AlterUserScramCredentialsHandler(broker),
            new DescribeClientQuotasHandler(broker),
            new AlterClientQuotasHandler(broker),
            new CreateAclsHandler(broker),
            new DescribeAclsHandler(broker),
            new DeleteAclsHandler(broker),

            // Consumer groups (GroupCoordinator); in cluster mode served on the leader of __consumer_offsets only.
            new FindCoordinatorHandler(broker),
            Group(new JoinGroupHandler(broker)),
            Group(new SyncGroupHandler(broker)),
            Group(new HeartbeatHandler(broker)),
            Group(new LeaveGroupHandler(broker)),
            Group(new OffsetCommitHandler(broker)),
            Group(new OffsetFetchHandler(broker)),
            Group(new OffsetDeleteHandler(broker)),
            Group(new DescribeGroupsHandler(broker)),
            new ListGroupsHandler(broker),
            Group(new DeleteGroupsHandler(broker)),
            Group(new ConsumerGroupHeartbeatHandler(broker)),
            Group(new ConsumerGroupDescribeHandler(broker)),

            // Share groups (ShareGroupCoordinator).
            new ShareGroupHeartbeatHandler(broker),
            new ShareGroupDescribeHandler(broker),
            new ShareFetchHandler(broker),
            new ShareAcknowledgeHandler(broker),
            new DescribeShareGroupOffsetsHandler(broker),
            new AlterShareGroupOffsetsHandler(broker),
            new DeleteShareGroupOffsetsHandler(broker),

            // Idempotent and transactional producers (TransactionCoordinator, partition producer state).
            new InitProducerIdHandler(broker),
            new AddPartitionsToTxnHandler(broker),
            new AddOffsetsToTxnHandler(broker),
            Group(new TxnOffsetCommitHandler(broker)),
            new EndTxnHandler(broker),
            new DescribeTransactionsHandler(broker),
            new ListTransactionsHandler(broker),
            new DescribeProducersHandler(broker),
            new WriteTxnMarkersHandler(broker),
        ];
        IApiHandler Group(IApiHandler handler) => new CoordinatedHandler(handler, () => broker.Groups.CoordinatorError);
        dispatcher = new RequestDispatcher(handlers, loggerFactory.CreateLogger<RequestDispatcher>(), broker.Quotas) { Errors = broker.RequestErrors };
        return dispatcher;
    }
}
