using Confluent.Kafka;
using Xunit;

public sealed class OrderTests(KafkaFixture kafka) : IClassFixture<KafkaFixture>
{
    [Fact]
    public async Task ConsumerReadsWhatTheProducerWrote()
    {
        var config = new ProducerConfig { BootstrapServers = kafka.Broker.BootstrapServers };
        using var producer = new ProducerBuilder<string, string>(config).Build();
        await producer.ProduceAsync("orders", new Message<string, string> { Key = "order-1", Value = "3 apples" });

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = kafka.Broker.BootstrapServers,
            GroupId = "order-tests",
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe("orders");
        var record = consumer.Consume(TimeSpan.FromSeconds(30));
        consumer.Close();

        Assert.NotNull(record);
        Assert.Equal("order-1", record.Message.Key);
        Assert.Equal("3 apples", record.Message.Value);
    }
}
