using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Confluent.Kafka;

namespace Tributary.Aspire.Tests;

/// <summary>
/// An AppHost with <c>AddTributary</c> starts, and Confluent.Kafka produces to and consumes from the broker at the
/// resource's connection string, and the broker stops with the AppHost. Proves the integration end to end in the
/// AppHost process, under Aspire's orchestrator (DCP), without Docker.
/// </summary>
public sealed class AddTributaryTests
{
    [Fact]
    public async Task ConfluentKafkaProducesAndConsumesThroughTheConnectionString()
    {
        Librdkafka.EnsureLoaded();
        var builder = CreateAppHostBuilder();
        var kafka = builder.AddTributary("kafka").WithTopic("orders", partitions: 2);
        var app = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await app.StartAsync(timeout.Token);

        var bootstrapServers = await kafka.Resource.ConnectionStringExpression.GetValueAsync(timeout.Token);
        Assert.Equal(kafka.Resource.Broker!.BootstrapServers, bootstrapServers);

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = bootstrapServers }).Build())
        {
            await producer.ProduceAsync("orders", new Message<string, string> { Key = "order-1", Value = "3 apples" }, timeout.Token);
        }

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "aspire-test",
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe("orders");
        var record = consumer.Consume(TimeSpan.FromSeconds(30));
        consumer.Close();

        Assert.NotNull(record);
        Assert.Equal("order-1", record.Message.Key);
        Assert.Equal("3 apples", record.Message.Value);
        await app.StopAsync(timeout.Token);
        await app.DisposeAsync();

        // The broker stopped with the AppHost: nothing listens on its port any more.
        Assert.Null(kafka.Resource.Broker);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await Assert.ThrowsAsync<SocketException>(() => socket.ConnectAsync(IPEndPoint.Parse(bootstrapServers!), timeout.Token).AsTask());
    }

    [Fact]
    public async Task APersistentDataDirectoryKeepsRecordsAcrossRunsOfTheAppHost()
    {
        Librdkafka.EnsureLoaded();
        var dataDirectory = Directory.CreateTempSubdirectory("tributary-aspire-").FullName;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var first = CreateAppHostBuilder();
            var kafka = first.AddTributary("kafka").WithDataDirectory(dataDirectory);
            await using (var app = first.Build())
            {
                await app.StartAsync(timeout.Token);
                var bootstrapServers = await kafka.Resource.ConnectionStringExpression.GetValueAsync(timeout.Token);
                using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = bootstrapServers }).Build();
                await producer.ProduceAsync("kept", new Message<Null, string> { Value = "still here" }, timeout.Token);
                await app.StopAsync(timeout.Token);
            }

            var second = CreateAppHostBuilder();
            var again = second.AddTributary("kafka").WithDataDirectory(dataDirectory);
            await using (var app = second.Build())
            {
                await app.StartAsync(timeout.Token);
                var bootstrapServers = await again.Resource.ConnectionStringExpression.GetValueAsync(timeout.Token);
                using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig
                {
                    BootstrapServers = bootstrapServers,
                    GroupId = "aspire-persistence-test",
                    AutoOffsetReset = AutoOffsetReset.Earliest,
                }).Build();
                consumer.Subscribe("kept");
                var record = consumer.Consume(TimeSpan.FromSeconds(30));
                consumer.Close();
                Assert.Equal("still here", record?.Message.Value);
                await app.StopAsync(timeout.Token);
            }

            Assert.True(Directory.Exists(Path.Combine(dataDirectory, "kept-0")));
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    private static IDistributedApplicationBuilder CreateAppHostBuilder()
    {
        var builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions { DisableDashboard = true });
        builder.Configuration["DcpPublisher:CliPath"] = DcpCliPath();
        // The dashboard is off, but Aspire 13.6 validates that its path is set all the same (it is not read).
        builder.Configuration["DcpPublisher:DashboardPath"] = Path.GetDirectoryName(DcpCliPath());
        return builder;
    }

    // An AppHost's SDK gives Aspire DCP's path; here the test project's build writes it into assembly metadata.
    private static string DcpCliPath() =>
        typeof(AddTributaryTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "dcpclipath").Value!;
}
