using System.Collections.Concurrent;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Mvccpb;
using Tributary.Broker.Security;
using Tributary.Broker.Security.Authorization;

namespace Tributary.Broker.Cluster;

// ACLs and SCRAM credentials, cluster metadata as in KRaft: the same on every broker. `acls` holds every binding in one
// document, so a CreateAcls or DeleteAcls of any size is one compare-and-swap; `scram/<user>` holds one user's
// credentials, and an AlterUserScramCredentials is one transaction comparing each named user's key. Every broker
// watches them into this cache: the authorizer and SCRAM logins read it and never wait on etcd, so they keep working
// while etcd is unreachable (with what the cache last held).
public sealed partial class ClusterNode
{
    /// <summary>
    /// Bytes of the JSON of all the cluster's ACL bindings (the <c>acls</c> value), below etcd's default request limit of
    /// 1.5 MiB (--max-request-bytes): a change that would pass it is refused and nothing is written.
    /// </summary>
    public const int AclsBytesMax = 1024 * 1024;

    /// <summary>Users one AlterUserScramCredentials may change: a transaction holds one operation per user, and etcd refuses more than 128 (--max-txn-ops).</summary>
    public const int ScramUsersPerChangeMax = 100;

    /// <summary>Users with SCRAM credentials the cluster keeps (and each broker caches); a change adding users past it is refused.</summary>
    public const int ScramUsersMax = 100_000;

    /// <summary>Compare-and-swap attempts for one ACL or SCRAM change (each lost attempt means another broker changed them first).</summary>
    private const int SecurityChangeAttemptsMax = 16;

    private readonly ConcurrentDictionary<string, Versioned<ClusterScramUser>> _scramUsers = new(StringComparer.Ordinal);

    // Replaced whole on each change, so the authorizer tells a change by the array's reference.
    private AclsVersion _acls = new([], 0);

    /// <summary>The cluster's ACL bindings as this broker last saw them.</summary>
    public IReadOnlyList<AclBinding> Acls => Volatile.Read(ref _acls).Bindings;

    /// <summary>How many users hold SCRAM credentials in the cluster, as this broker last saw it.</summary>
    public int ScramUserCount => _scramUsers.Count;

    /// <summary>A user's SCRAM credential for a mechanism in the cluster; null when there is none.</summary>
    public ScramCredential? FindScramCredential(string user, string mechanism) =>
        _scramUsers.TryGetValue(user, out var held) ? held.Value.Credentials.GetValueOrDefault(mechanism) : null;

    /// <summary>Every user with a SCRAM credential in the cluster, each with its mechanisms and their iteration counts.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> ScramUsers() =>
        _scramUsers.ToDictionary(u => u.Key, u => (IReadOnlyDictionary<string, int>)u.Value.Value.Credentials.ToDictionary(m => m.Key, m => m.Value.Iterations), StringComparer.Ordinal);

    /// <summary>
    /// Replaces the cluster's ACLs with what <paramref name="change"/> makes of the current ones (null: nothing to
    /// change), as a compare-and-swap on <c>acls</c>; on a lost race it runs again on the newer bindings, so concurrent
    /// changes through several brokers all land. Returns once this broker's cache holds the change (or after
    /// <see cref="MetadataChangeTimeoutMsMax"/>). Throws <see cref="ClusterTimeoutException"/> when etcd does not commit.
    /// </summary>
    public async Task<AclChange> ChangeAclsAsync(Func<IReadOnlyList<AclBinding>, AclBinding[]?> change, CancellationToken cancellationToken)
    {
        var key = ByteString.CopyFromUtf8(_keys.Acls);
        var current = Volatile.Read(ref _acls);
        for (var attempt = 0; attempt < SecurityChangeAttemptsMax; attempt++)
        {
            if (change(current.Bindings) is not { } replacement)
            {
                return AclChange.Unchanged;
            }

            var value = JsonSerializer.SerializeToUtf8Bytes(new ClusterAcls(replacement), ClusterJson.Default.ClusterAcls);
            if (value.Length > AclsBytesMax)
            {
                LogAclsTooLarge(_logger, replacement.Length, value.Length, AclsBytesMax);
                return AclChange.TooLarge;
            }

            var response = await TxnAsync(new TxnRequest
            {
                Compare = { Unchanged(key, current.ModRevision) },
                Success = { new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFrom(value) } } },
                Failure = { new RequestOp { RequestRange = new RangeRequest { Key = key } } },
            }, cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                await WaitForRevisionAsync(response.Header.Revision, cancellationToken).ConfigureAwait(false);
                return AclChange.Written;
            }

            var kvs = response.Responses[0].ResponseRange.Kvs;
            current = kvs.Count == 0 ? new AclsVersion([], 0) : new AclsVersion(ReadAcls(kvs[0]), kvs[0].ModRevision);
        }

        LogSecurityChangeContended(_logger, "ACLs", SecurityChangeAttemptsMax);
        throw new ClusterTimeoutException($"the cluster's ACLs kept changing under this change for {SecurityChangeAttemptsMax} attempts; try again");
    }

    /// <summary>
    /// Stores (a credential) and deletes (null) SCRAM credentials in one transaction comparing every named user's key;
    /// a user left without a mechanism is removed. On a lost race the changes apply again to the newer credentials.
    /// At most <see cref="ScramUsersPerChangeMax"/> users. Throws <see cref="ClusterTimeoutException"/> when etcd does not commit.
    /// </summary>
    public async Task AlterScramCredentialsAsync(IReadOnlyList<(string User, string Mechanism, ScramCredential? Credential)> changes, CancellationToken cancellationToken)
    {
        var users = changes.Select(c => c.User).Distinct(StringComparer.Ordinal).ToList();
        if (users.Count > ScramUsersPerChangeMax)
        {
            throw new ArgumentException($"{users.Count} users in one change; at most {ScramUsersPerChangeMax}", nameof(changes));
        }

        var current = users.ToDictionary(u => u, u => _scramUsers.TryGetValue(u, out var held) ? held : (Versioned<ClusterScramUser>?)null, StringComparer.Ordinal);
        for (var attempt = 0; attempt < SecurityChangeAttemptsMax; attempt++)
        {
            var txn = new TxnRequest();
            foreach (var user in users)
            {
                var key = ByteString.CopyFromUtf8(_keys.ScramUser(user));
                var held = current[user];
                var credentials = new Dictionary<string, ScramCredential>(held?.Value.Credentials ?? [], StringComparer.Ordinal);
                foreach (var (_, mechanism, credential) in changes.Where(c => c.User == user))
                {
                    if (credential is null)
                    {
                        credentials.Remove(mechanism);
                    }
                    else
                    {
                        credentials[mechanism] = credential;
                    }
                }

                txn.Compare.Add(Unchanged(key, held?.ModRevision ?? 0));
                txn.Success.Add(credentials.Count == 0
                    ? new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = key } }
                    : new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFromUtf8(JsonSerializer.Serialize(new ClusterScramUser(credentials), ClusterJson.Default.ClusterScramUser)) } });
                txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = key } });
            }

            var response = await TxnAsync(txn, cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                await WaitForRevisionAsync(response.Header.Revision, cancellationToken).ConfigureAwait(false);
                return;
            }

            for (var i = 0; i < users.Count; i++)
            {
                var kvs = response.Responses[i].ResponseRange.Kvs;
                current[users[i]] = kvs.Count == 0 ? null : new Versioned<ClusterScramUser>(ReadScramUser(kvs[0]), kvs[0].ModRevision);
            }
        }

        LogSecurityChangeContended(_logger, "SCRAM credentials", SecurityChangeAttemptsMax);
        throw new ClusterTimeoutException($"the SCRAM credentials of these users kept changing under this change for {SecurityChangeAttemptsMax} attempts; try again");
    }

    // The key is still at the revision the change was computed from; 0: it is still absent.
    private static Compare Unchanged(ByteString key, long modRevision) => modRevision == 0
        ? new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 }
        : new Compare { Key = key, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = modRevision };

    private void ApplyAcls(KeyValue? kv)
    {
        var acls = kv is null ? new AclsVersion([], 0) : new AclsVersion(ReadAcls(kv), kv.ModRevision);
        Volatile.Write(ref _acls, acls);
        LogAclsApplied(_logger, acls.Bindings.Length, kv?.ModRevision ?? 0);
    }

    private void ApplyScramUser(string user, KeyValue? kv)
    {
        if (kv is null)
        {
            _scramUsers.TryRemove(user, out _);
            LogScramUserApplied(_logger, user, "");
            return;
        }

        var value = ReadScramUser(kv);
        _scramUsers[user] = new Versioned<ClusterScramUser>(value, kv.ModRevision);
        LogScramUserApplied(_logger, user, string.Join(",", value.Credentials.Keys.Order(StringComparer.Ordinal)));
    }

    // A value is checked as the metadata snapshot is at start: one that is not a valid record is refused (JsonException,
    // logged and skipped by ApplyAsync), never half taken in.
    private static AclBinding[] ReadAcls(KeyValue kv)
    {
        var bindings = JsonSerializer.Deserialize(kv.Value.Span, ClusterJson.Default.ClusterAcls)?.Bindings
            ?? throw new JsonException("the ACLs value holds no bindings");
        return bindings.Any(b => b?.ResourceName is null || b.Principal is null || b.Host is null || b.Validate() is not null)
            ? throw new JsonException("an ACL binding has a missing or invalid field")
            : bindings;
    }

    private static ClusterScramUser ReadScramUser(KeyValue kv)
    {
        var user = JsonSerializer.Deserialize(kv.Value.Span, ClusterJson.Default.ClusterScramUser);
        if (user?.Credentials is null || user.Credentials.Any(m => !SaslMechanisms.Scram.Contains(m.Key) || m.Value?.Salt is null || m.Value.StoredKey is null
            || m.Value.ServerKey is null || m.Value.Iterations is < Scram.IterationsMin or > Scram.IterationsMax))
        {
            throw new JsonException("a SCRAM credential has an unknown mechanism, a missing key or salt, or iterations out of range");
        }

        return user;
    }

    private sealed record AclsVersion(AclBinding[] Bindings, long ModRevision);

    [LoggerMessage(EventId = 1220, Level = LogLevel.Information, Message = "The cluster's ACLs changed: {Bindings} bindings (etcd revision {Revision})")]
    private static partial void LogAclsApplied(ILogger logger, int bindings, long revision);

    [LoggerMessage(EventId = 1221, Level = LogLevel.Debug, Message = "The SCRAM credentials of user {User} changed: mechanisms [{Mechanisms}]")]
    private static partial void LogScramUserApplied(ILogger logger, string user, string mechanisms);

    [LoggerMessage(EventId = 1226, Level = LogLevel.Warning, Message = "An ACL change refused: its {Bindings} bindings would take {Bytes} bytes in etcd, more than {BytesMax}")]
    private static partial void LogAclsTooLarge(ILogger logger, int bindings, int bytes, int bytesMax);

    [LoggerMessage(EventId = 1222, Level = LogLevel.Warning, Message = "A change of the cluster's {What} lost the compare-and-swap {Attempts} times in a row; answered REQUEST_TIMED_OUT")]
    private static partial void LogSecurityChangeContended(ILogger logger, string what, int attempts);
}
