using System.IO.Pipelines;

namespace Tributary.Server.Networking;

/// <summary>A reader and a writer as one <see cref="IDuplexPipe"/>: a connection's transport.</summary>
internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;
}
