using System.Security.Cryptography.X509Certificates;
using Tributary.Broker.Security;

namespace Tributary.Broker.Tests.Security;

/// <summary>ssl.principal.mapping.rules with the cases of Kafka's SslPrincipalMapperTest, and subjects as Java prints them.</summary>
public sealed class SslPrincipalMapperTests
{
    [Theory]
    [InlineData("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT", "CN=kafka-server1,OU=ServiceUsers,O=Org,C=US", "kafka-server1")]
    [InlineData("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT", "CN=duke,OU=JavaSoft,O=Sun Microsystems", "CN=duke,OU=JavaSoft,O=Sun Microsystems")]
    [InlineData("RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L", "CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Palo Alto,ST=CA,C=US", "duke@javasoft")]
    [InlineData("RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U", "CN=duke,OU=JavaSoft,O=Sun Microsystems", "DUKE")]
    [InlineData("  RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/ ,  DEFAULT  ", "CN=kafka-server1,OU=ServiceUsers,O=Org,C=US", "kafka-server1")]
    [InlineData("DEFAULT", "CN=duke", "CN=duke")]
    public void Rules_map_a_subject_as_Kafka_does(string rules, string subject, string expected)
    {
        var (mapper, error) = SslPrincipalMapper.Parse(rules);

        Assert.Null(error);
        Assert.Equal(expected, mapper!.Map(subject));
    }

    [Theory]
    [InlineData("default")]
    [InlineData("DEFAUL")]
    [InlineData("DEFAULT/L")]
    [InlineData("DEFAULT/U")]
    [InlineData("RULE:CN=(.*?),OU=ServiceUsers.*/$1")]
    [InlineData("RULE:CN=(.*?),OU=ServiceUsers.*/$1/L/U")]
    [InlineData("RULE:CN=(.*?),OU=ServiceUsers.*/L")]
    [InlineData("RULE:CN=(.*?),OU=ServiceUsers.*/U")]
    [InlineData("RULE:CN=(.*?),OU=ServiceUsers.*/LU")]
    public void Invalid_rules_are_refused(string rules)
    {
        var (mapper, error) = SslPrincipalMapper.Parse(rules);

        Assert.Null(mapper);
        Assert.StartsWith("ssl.principal.mapping.rules", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_subject_no_rule_matches_maps_to_nothing()
    {
        var (mapper, _) = SslPrincipalMapper.Parse("RULE:^CN=(.*),OU=ServiceUsers$/$1/");

        Assert.Null(mapper!.Map("CN=bad,OU=Other"));
    }

    [Theory]
    [InlineData("CN=alice, OU=eng, O=Example, C=US", "CN=alice,OU=eng,O=Example,C=US")]
    [InlineData("CN=\"Smith, John\", O=\"A+B\"", "CN=Smith\\, John,O=A\\+B")]
    [InlineData("UID=jdoe, DC=example, DC=com", "UID=jdoe,DC=example,DC=com")]
    public void Subjects_are_printed_as_Javas_X500Principal_prints_them(string subject, string expected) =>
        Assert.Equal(expected, SslPrincipalMapper.Rfc2253(new X500DistinguishedName(subject)));
}
