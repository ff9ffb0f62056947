using BenchmarkDotNet.Running;
using Tributary.Benchmarks;

if (args is ["embedded", ..])
{
    await EmbeddedFigures.RunAsync();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
