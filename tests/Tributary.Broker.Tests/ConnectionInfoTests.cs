using System.Net;
using Tributary.Broker.Dispatch;

namespace Tributary.Broker.Tests;

/// <summary>The client host Kafka shows in DescribeGroups and ConsumerGroupDescribe: Java's InetAddress.toString().</summary>
public sealed class ConnectionInfoTests
{
    [Theory]
    [InlineData("127.0.0.1", "/127.0.0.1")]
    [InlineData("::ffff:10.1.2.3", "/10.1.2.3")]
    [InlineData("::1", "/0:0:0:0:0:0:0:1")]
    [InlineData("fe80::1:abcd", "/fe80:0:0:0:0:0:1:abcd")]
    public void The_client_host_is_the_peer_address_as_kafka_prints_it(string address, string expected) =>
        Assert.Equal(expected, ConnectionInfo.FormatClientHost(new IPEndPoint(IPAddress.Parse(address), 51234)));

    [Fact]
    public void A_connection_without_an_ip_peer_has_no_client_host()
    {
        Assert.Equal("", ConnectionInfo.FormatClientHost(null));
        Assert.Equal("", ConnectionInfo.FormatClientHost(new DnsEndPoint("localhost", 9092)));
    }
}
