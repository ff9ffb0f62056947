using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Tributary.Broker.Cluster;

// Producer id blocks: the key `producer_ids` holds the next unreserved id; a broker takes [next, next + size) with a
// compare-and-swap on the key's revision (or its absence), so no block is ever handed to two brokers.
public sealed partial class ClusterNode
{
    /// <summary>Compare-and-swap attempts for one block before giving up (each lost attempt means another broker got one).</summary>
    private const int ProducerIdBlockAttemptsMax = 64;

    /// <summary>
    /// Reserves <paramref name="size"/> producer ids for this broker and returns the first. Throws
    /// <see cref="ClusterUnavailableException"/> when etcd does not answer or the key is contended too long.
    /// </summary>
    public async Task<long> ReserveProducerIdBlockAsync(long size, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        var key = ByteString.CopyFromUtf8(_keys.ProducerIds);
        try
        {
            for (var attempt = 0; attempt < ProducerIdBlockAttemptsMax; attempt++)
            {
                var range = await _kv.RangeAsync(new RangeRequest { Key = key }, deadline: Deadline(), cancellationToken: linked.Token).ConfigureAwait(false);
                var current = range.Kvs.Count == 0 ? null : range.Kvs[0];
                var start = current is null ? 0 : JsonSerializer.Deserialize(current.Value.Span, ClusterJson.Default.ProducerIdBlock)!.NextProducerId;
                var compare = current is null
                    ? new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 }
                    : new Compare { Key = key, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = current.ModRevision };
                var next = new ProducerIdBlock(LocalNodeId, checked(start + size));
                var txn = new TxnRequest
                {
                    Compare = { compare },
                    Success = { new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFromUtf8(JsonSerializer.Serialize(next, ClusterJson.Default.ProducerIdBlock)) } } },
                };
                var response = await _kv.TxnAsync(txn, deadline: Deadline(), cancellationToken: linked.Token).ConfigureAwait(false);
                if (response.Succeeded)
                {
                    LogProducerIdBlock(_logger, start, start + size - 1);
                    return start;
                }
            }
        }
        catch (RpcException e)
        {
            throw new ClusterUnavailableException("etcd did not answer the producer id block reservation: " + e.Status.Detail, e);
        }

        throw new ClusterUnavailableException($"the producer id block key stayed contended for {ProducerIdBlockAttemptsMax} attempts");
    }

    [LoggerMessage(EventId = 1540, Level = LogLevel.Information, Message = "Reserved producer ids {First}-{Last} in etcd")]
    private static partial void LogProducerIdBlock(ILogger logger, long first, long last);
}
