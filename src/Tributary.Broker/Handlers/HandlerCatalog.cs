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
            new ElectLeadersHandler(broker),
            new AlterPartitionReassignmentsHandler(broker),
            new ListPartitionReassignmentsHandler(broker),
            new DescribeLogDirsHandler(broker),
            new DeleteRecordsHandler(broker),
            new DescribeUserScramCredentialsHandler(broker),
            new AlterUserScramCredentialsHandler(broker),
            new DescribeClientQuotasHandler(broker),
            new AlterClientQuotasHandler(broker),
            new CreateAclsHandler(broker),
            new DescribeAclsHandler(broker),
            new DeleteAclsHandler(broker),

            // Consumer groups (GroupCoordinator).
            new FindCoordinatorHandler(broker),
            new JoinGroupHandler(broker),
            new SyncGroupHandler(broker),
            new HeartbeatHandler(broker),
            new LeaveGroupHandler(broker),
            new OffsetCommitHandler(broker),
            new OffsetFetchHandler(broker),
            new OffsetDeleteHandler(broker),
            new DescribeGroupsHandler(broker),
            new ListGroupsHandler(broker),
            new DeleteGroupsHandler(broker),
            new ConsumerGroupHeartbeatHandler(broker),
            new ConsumerGroupDescribeHandler(broker),

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
            new TxnOffsetCommitHandler(broker),
            new EndTxnHandler(broker),
            new DescribeTransactionsHandler(broker),
            new ListTransactionsHandler(broker),
            new DescribeProducersHandler(broker),
        ];
        dispatcher = new RequestDispatcher(handlers, loggerFactory.CreateLogger<RequestDispatcher>(), broker.Quotas) { Errors = broker.RequestErrors };
        return dispatcher;
    }
}
