using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Mvccpb;
using Tributary.Broker.Metadata;
using Tributary.Broker.Quotas;

namespace Tributary.Broker.Cluster;

// Client quotas, cluster metadata as in KRaft: `client_quotas` holds every entity's quotas in one document, so an
// AlterClientQuotas of any size is one compare-and-swap. Every broker applies it from its watch into its metadata
// store, which the quota manager reads; each broker enforces the quotas on its own traffic, as Kafka's brokers do.
public sealed partial class ClusterNode
{
    /// <summary>Bytes of the JSON of all the cluster's client quotas (the <c>client_quotas</c> value), below etcd's default 1.5 MiB request limit.</summary>
    public const int ClientQuotasBytesMax = 1024 * 1024;

    private long _clientQuotasRevision;

    /// <summary>
    /// Applies <paramref name="changes"/> (a value sets a key, null removes it) to the cluster's client quotas as a
    /// compare-and-swap on <c>client_quotas</c>; on a lost race they apply again to the newer quotas. Returns once this
    /// broker's store holds the change (or after <see cref="MetadataChangeTimeoutMsMax"/>); false when the quotas
    /// would pass <see cref="ClientQuotasBytesMax"/> (nothing written). Throws <see cref="ClusterTimeoutException"/>
    /// when etcd does not commit.
    /// </summary>
    public async Task<bool> AlterClientQuotasAsync(IReadOnlyList<(ClientQuotaEntity Entity, string Key, double? Value)> changes, CancellationToken cancellationToken)
    {
        var key = ByteString.CopyFromUtf8(_keys.ClientQuotas);
        // The revision before the quotas, as ApplyClientQuotas writes them in the other order: a change applied in
        // between makes the compare-and-swap fail rather than overwrite it unseen.
        var revision = Volatile.Read(ref _clientQuotasRevision);
        var current = _core.Metadata.ClientQuotas;
        for (var attempt = 0; attempt < SecurityChangeAttemptsMax; attempt++)
        {
            var updated = MetadataStore.WithChanges(current, changes);
            var value = JsonSerializer.SerializeToUtf8Bytes(new ClusterClientQuotas([.. updated.Select(q => ClientQuotaRecord.Of(q.Key, q.Value))]), ClusterJson.Default.ClusterClientQuotas);
            if (value.Length > ClientQuotasBytesMax)
            {
                return false;
            }

            var response = await TxnAsync(new TxnRequest
            {
                Compare = { Unchanged(key, revision) },
                Success = { new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFrom(value) } } },
                Failure = { new RequestOp { RequestRange = new RangeRequest { Key = key } } },
            }, cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                await WaitForRevisionAsync(response.Header.Revision, cancellationToken).ConfigureAwait(false);
                return true;
            }

            var kvs = response.Responses[0].ResponseRange.Kvs;
            (current, revision) = kvs.Count == 0 ? (new Dictionary<ClientQuotaEntity, IReadOnlyDictionary<string, double>>(), 0) : (ReadClientQuotas(kvs[0]), kvs[0].ModRevision);
        }

        LogSecurityChangeContended(_logger, "client quotas", SecurityChangeAttemptsMax);
        throw new ClusterTimeoutException($"the cluster's client quotas kept changing under this change for {SecurityChangeAttemptsMax} attempts; try again");
    }

    private void ApplyClientQuotas(KeyValue? kv)
    {
        if (kv is not null || _core.Metadata.ClientQuotas.Count > 0)
        {
            _core.Metadata.ReplaceClientQuotas(kv is null ? new Dictionary<ClientQuotaEntity, IReadOnlyDictionary<string, double>>() : ReadClientQuotas(kv));
        }

        Volatile.Write(ref _clientQuotasRevision, kv?.ModRevision ?? 0);
    }

    // A value that is not a valid record is refused whole (JsonException, logged and skipped by ApplyAsync).
    private static Dictionary<ClientQuotaEntity, IReadOnlyDictionary<string, double>> ReadClientQuotas(KeyValue kv)
    {
        var quotas = JsonSerializer.Deserialize(kv.Value.Span, ClusterJson.Default.ClusterClientQuotas)?.Quotas
            ?? throw new JsonException("the client quotas value holds no quotas");
        var read = new Dictionary<ClientQuotaEntity, IReadOnlyDictionary<string, double>>();
        foreach (var quota in quotas)
        {
            if (quota is null || !quota.TryRead(out var entity))
            {
                throw new JsonException("a client quota has an invalid entity, key or value");
            }

            read[entity] = quota.Values;
        }

        return read;
    }
}
