using Tributary.Server;
using Xunit;

public sealed class KafkaFixture : IAsyncLifetime
{
    public TributaryBroker Broker { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Librdkafka.EnsureLoaded();
        var options = new TributaryBrokerOptions();          // free port, in-memory storage
        options.Topics["orders"] = 3;                          // created before the first client connects
        Broker = await TributaryBroker.StartAsync(options);
    }

    public async Task DisposeAsync() => await Broker.DisposeAsync();
}
