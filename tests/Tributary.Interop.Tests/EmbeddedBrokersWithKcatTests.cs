using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// Twenty embedded brokers started in parallel in this one test process, each driven by a real kcat over
/// loopback: every one accepts a produce and serves it back, none sees another's data, and all dispose.
/// </summary>
public sealed class EmbeddedBrokersWithKcatTests : IDisposable
{
    private const int BrokerCount = 20;
    private const int MessagesPerBroker = 50;
    private readonly string _work = Directory.CreateTempSubdirectory("tributary-embedded-").FullName;

    [Fact]
    public async Task TwentyBrokersInOneProcessEachServeKcat()
    {
        var brokers = await Task.WhenAll(Enumerable.Range(0, BrokerCount).Select(i =>
        {
            var options = new TributaryBrokerOptions { InMemory = i % 2 == 0 };
            options.Topics["embedded"] = 2;
            return TributaryBroker.StartAsync(options);
        }));
        try
        {
            Assert.Equal(BrokerCount, brokers.Select(b => b.Port).Distinct().Count());
            await Task.WhenAll(brokers.Select(async (broker, i) =>
            {
                var input = Path.Combine(_work, $"in-{i}.txt");
                await File.WriteAllLinesAsync(input, Enumerable.Range(0, MessagesPerBroker).Select(m => $"key-{m}\tbroker-{i}-message-{m}"));
                await KcatRunner.ProduceLinesAsync(broker.BootstrapServers, "embedded", input, ["-X", "acks=all"]);
            }));

            await Task.WhenAll(brokers.Select(async (broker, i) =>
            {
                var messages = await KcatRunner.ConsumeAllAsync(broker.BootstrapServers, "embedded", Path.Combine(_work, $"out-{i}.json"));
                Assert.Equal(
                    Enumerable.Range(0, MessagesPerBroker).Select(m => $"broker-{i}-message-{m}").Order(StringComparer.Ordinal),
                    messages.Select(m => m.Payload!).Order(StringComparer.Ordinal));
            }));
        }
        finally
        {
            await Task.WhenAll(brokers.Select(b => b.DisposeAsync().AsTask()));
        }

        foreach (var broker in brokers)
        {
            Assert.Throws<InvalidOperationException>(() => broker.Core);
        }
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);
}
