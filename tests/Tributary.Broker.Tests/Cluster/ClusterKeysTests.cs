using Tributary.Broker.Cluster;

namespace Tributary.Broker.Tests.Cluster;

/// <summary>The keys of ACLs and SCRAM users parse back to what they name; other keys stay what they were.</summary>
public sealed class ClusterKeysTests
{
    private readonly ClusterKeys _keys = new("/c");

    [Fact]
    public void Acl_and_scram_user_keys_parse_back_to_their_kind_and_user()
    {
        Assert.Equal((ClusterKeyKind.Acls, "", 0), _keys.Parse(_keys.Acls));
        Assert.Equal((ClusterKeyKind.ScramUser, "bob", 0), _keys.Parse(_keys.ScramUser("bob")));
        Assert.Equal((ClusterKeyKind.ScramUser, "CN=a/b,O=x", 0), _keys.Parse(_keys.ScramUser("CN=a/b,O=x")));
        Assert.Equal((ClusterKeyKind.Other, "", 0), _keys.Parse(_keys.ScramUsers));
        Assert.Equal((ClusterKeyKind.Other, "", 0), _keys.Parse("/c/aclsx"));
        Assert.Equal((ClusterKeyKind.Topic, "acls", 0), _keys.Parse(_keys.Topic("acls")));
    }
}
