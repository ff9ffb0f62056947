using Tributary.Server;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// A Kafka-compatible broker that runs inside the AppHost process (an embedded <see cref="TributaryBroker"/>), so an
/// AppHost needs neither Docker nor an installed tool. Its connection string is the bootstrap servers,
/// <c>host:port</c>, which Confluent.Kafka takes as <c>BootstrapServers</c>.
/// </summary>
public sealed class TributaryResource : Resource, IResourceWithConnectionString
{
    private readonly BootstrapServersValue _bootstrapServers;

    /// <summary>Creates the resource; <see cref="Aspire.Hosting.TributaryBuilderExtensions.AddTributary"/> adds it to an AppHost.</summary>
    public TributaryResource(string name) : base(name)
    {
        _bootstrapServers = new BootstrapServersValue(this);
    }

    /// <summary>The broker's options: port, storage, topics created at start, broker keys.</summary>
    public TributaryBrokerOptions Options { get; } = new();

    /// <summary>The running broker, once the AppHost has started it.</summary>
    public TributaryBroker? Broker { get; internal set; }

    internal TaskCompletionSource<string> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The bootstrap servers (<c>host:port</c>), known once the broker listens.</summary>
    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{_bootstrapServers}");

    /// <summary>The bootstrap servers once the broker listens: its port may be chosen when it starts.</summary>
    private sealed class BootstrapServersValue(TributaryResource resource) : IValueProvider, IManifestExpressionProvider
    {
        public string ValueExpression => $"{{{resource.Name}.connectionString}}";

        public async ValueTask<string?> GetValueAsync(CancellationToken cancellationToken = default) =>
            await resource.Started.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }
}
