using Microsoft.Extensions.Logging;
using Tributary.Broker.Dispatch;
using Tributary.Protocol;

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

            // Consumer groups (GroupCoordinator); in cluster mode a group is served on the leader of its partition of
            // __consumer_offsets only (a request naming several groups answers those led elsewhere NOT_COORDINATOR).
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

            // Share groups (ShareGroupCoordinator): membership and the offset changes on the group coordinator (the leader
            // of __consumer_offsets in cluster mode); share sessions on each data partition's leader. Every broker
            // describes offsets, reading them from the share coordinator.
            Group(new ShareGroupHeartbeatHandler(broker)),
            Group(new ShareGroupDescribeHandler(broker)),
            new ShareFetchHandler(broker),
            new ShareAcknowledgeHandler(broker),
            new DescribeShareGroupOffsetsHandler(broker),
            Group(new AlterShareGroupOffsetsHandler(broker)),
            Group(new DeleteShareGroupOffsetsHandler(broker)),

            // The share coordinator's APIs (broker to broker): in cluster mode each share partition's state is served on
            // the leader of its partition of __share_group_state (ShareCoordinator answers the others NOT_COORDINATOR).
            new InitializeShareGroupStateHandler(broker),
            new ReadShareGroupStateHandler(broker),
            new WriteShareGroupStateHandler(broker),
            new DeleteShareGroupStateHandler(broker),
            new ReadShareGroupStateSummaryHandler(broker),

            // Idempotent and transactional producers (TransactionCoordinator, partition producer state); in cluster mode
            // a transactional id is served on the leader of its partition of __transaction_state only.
            new InitProducerIdHandler(broker),
            Transaction(new AddPartitionsToTxnHandler(broker)),
            Transaction(new AddOffsetsToTxnHandler(broker)),
            Group(new TxnOffsetCommitHandler(broker)),
            Transaction(new EndTxnHandler(broker)),
            Transaction(new DescribeTransactionsHandler(broker)),
            new ListTransactionsHandler(broker),
            new DescribeProducersHandler(broker),
            new WriteTxnMarkersHandler(broker),
        ];
        IApiHandler Group(IApiHandler handler) => Coordinated(handler, broker.Groups.CoordinatorErrorFor);
        IApiHandler Transaction(IApiHandler handler) => Coordinated(handler, broker.Transactions.CoordinatorErrorFor);
        static IApiHandler Coordinated(IApiHandler handler, Func<string, ErrorCode> errorFor)
        {
            ((ICoordinatedApi)handler).CoordinateBy(errorFor);
            return handler;
        }

        dispatcher = new RequestDispatcher(handlers, loggerFactory.CreateLogger<RequestDispatcher>(), broker.Quotas) { Errors = broker.RequestErrors };
        return dispatcher;
    }
}
