// The "Use it in your tests" example of README.md, compiled and run as written (ReadmeExampleTests checks the
// README still shows exactly this code between the markers).
// README-EXAMPLE-START
using Tributary.Server;
using Xunit;

public sealed class KafkaFixture : IAsyncLifetime
{
    public TributaryBroker Broker { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var options = new TributaryBrokerOptions();          // free port, in-memory storage
        options.Topics["orders"] = 3;                          // created before the first client connects
        Broker = await TributaryBroker.StartAsync(options);
    }

    public async Task DisposeAsync() => await Broker.DisposeAsync();
}

public sealed class OrderTests(KafkaFixture kafka) : IClassFixture<KafkaFixture>
{
    [Fact]
    public void BrokerIsReachable() => Assert.StartsWith("127.0.0.1:", kafka.Broker.BootstrapServers);
}
// README-EXAMPLE-END
