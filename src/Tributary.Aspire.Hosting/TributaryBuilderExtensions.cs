using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tributary.Aspire.Hosting;
using Tributary.Server;

namespace Aspire.Hosting;

/// <summary>Adds a Tributary broker to an Aspire AppHost.</summary>
public static class TributaryBuilderExtensions
{
    /// <summary>
    /// Adds a Kafka-compatible broker named <paramref name="name"/>, run inside the AppHost process when the
    /// application starts and stopped with it. Services that reference it (<c>WithReference</c>) get its bootstrap
    /// servers as <c>ConnectionStrings__{name}</c>. Storage is in memory unless <see cref="WithDataDirectory"/> is set.
    /// </summary>
    /// <param name="builder">The AppHost's builder.</param>
    /// <param name="name">The resource's name, and the connection string's.</param>
    /// <param name="port">The port on 127.0.0.1 to listen on; a free port when omitted.</param>
    public static IResourceBuilder<TributaryResource> AddTributary(this IDistributedApplicationBuilder builder, [ResourceName] string name, int? port = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var resource = new TributaryResource(name);
        resource.Options.Port = port ?? 0;
        var tributary = builder.AddResource(resource)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "Tributary",
                State = KnownResourceStates.NotStarted,
                Properties = [],
            });
        if (!builder.ExecutionContext.IsRunMode)
        {
            return tributary;
        }

        // The orchestrator raises InitializeResourceEvent for a resource it does not run itself: start the broker.
        tributary.OnInitializeResource(async (resource, e, cancellationToken) =>
        {
            var logger = e.Logger;
            try
            {
                await e.Notifications.PublishUpdateAsync(resource, s => s with { State = KnownResourceStates.Starting }).ConfigureAwait(false);
                await e.Eventing.PublishAsync(new BeforeResourceStartedEvent(resource, e.Services), cancellationToken).ConfigureAwait(false);
                resource.Options.LoggerFactory ??= e.Services.GetService<ILoggerFactory>();
                resource.Broker = await TributaryBroker.StartAsync(resource.Options, cancellationToken).ConfigureAwait(false);
                resource.Started.TrySetResult(resource.Broker.BootstrapServers);
                logger.LogInformation("Tributary listening on {BootstrapServers}", resource.Broker.BootstrapServers);
                await e.Notifications.PublishUpdateAsync(resource, s => s with
                {
                    State = KnownResourceStates.Running,
                    StartTimeStamp = DateTime.UtcNow,
                    Properties = [.. s.Properties, new ResourcePropertySnapshot("tributary.bootstrap.servers", resource.Broker.BootstrapServers)],
                }).ConfigureAwait(false);
                await e.Eventing.PublishAsync(new ConnectionStringAvailableEvent(resource, e.Services), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Tributary failed to start");
                resource.Started.TrySetException(ex);
                await e.Notifications.PublishUpdateAsync(resource, s => s with { State = KnownResourceStates.FailedToStart }).ConfigureAwait(false);
            }
        });
        builder.Services.AddHostedService(_ => new TributaryBrokerStopper(resource));
        return tributary;
    }

    /// <summary>
    /// Keeps the broker's data on disk. With a <paramref name="path"/> the data stays there across runs of the AppHost;
    /// without one it goes to a temporary directory deleted when the AppHost stops.
    /// </summary>
    public static IResourceBuilder<TributaryResource> WithDataDirectory(this IResourceBuilder<TributaryResource> builder, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Resource.Options;
        options.InMemory = false;
        options.DataDirectory = path is null ? null : Path.GetFullPath(path, builder.ApplicationBuilder.AppHostDirectory);
        options.KeepDataDirectory = path is not null;
        return builder;
    }

    /// <summary>Creates <paramref name="topic"/> with <paramref name="partitions"/> partitions when the broker starts.</summary>
    public static IResourceBuilder<TributaryResource> WithTopic(this IResourceBuilder<TributaryResource> builder, string topic, int partitions = 1)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        builder.Resource.Options.Topics[topic] = partitions;
        return builder;
    }

    /// <summary>Sets a broker key (<c>num.partitions</c>, <c>log.retention.ms</c>, …) as <c>--set key=value</c> would.</summary>
    public static IResourceBuilder<TributaryResource> WithConfig(this IResourceBuilder<TributaryResource> builder, string key, string value)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Resource.Options.Config[key] = value;
        return builder;
    }
}
