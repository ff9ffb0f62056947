using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Hosting;

namespace Tributary.Aspire.Hosting;

/// <summary>
/// Stops the broker when the AppHost's services are disposed (DistributedApplication.DisposeAsync, which Run does on
/// exit), after the host has stopped the services that used it. A hosted service, so the container creates it and
/// therefore disposes it.
/// </summary>
internal sealed class TributaryBrokerStopper(TributaryResource resource) : IHostedService, IAsyncDisposable
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (resource.Broker is { } broker)
        {
            resource.Broker = null;
            await broker.DisposeAsync().ConfigureAwait(false);
        }
    }
}
