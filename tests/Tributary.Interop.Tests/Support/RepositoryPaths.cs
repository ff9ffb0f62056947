namespace Tributary.Interop.Tests.Support;

/// <summary>Where the tests find the repository's files: the root is the directory holding Tributary.slnx.</summary>
public static class RepositoryPaths
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    public static string Root => LazyRoot.Value;

    /// <summary>The kafkajs scripts and their package.json (test.sh runs <c>npm ci</c> there).</summary>
    public static string InteropJs => Path.Combine(Root, "tests", "interop-js");

    /// <summary>The standalone broker, copied next to the tests by the project reference to Tributary.Cli.</summary>
    public static string TributaryDll => Path.Combine(AppContext.BaseDirectory, "tributary.dll");

    /// <summary>The share consumer that dies holding records, copied next to the tests by its project reference.</summary>
    public static string ShareConsumerProbeDll => Path.Combine(AppContext.BaseDirectory, "ShareConsumerProbe.dll");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Tributary.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Tributary.slnx above {AppContext.BaseDirectory}");
    }
}
