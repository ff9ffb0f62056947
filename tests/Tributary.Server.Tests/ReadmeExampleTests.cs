namespace Tributary.Server.Tests;

/// <summary>README's test-fixture example is the code that ReadmeFixtureExample.cs compiles and runs.</summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void ReadmeShowsTheCompiledExample()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Tributary.slnx")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var source = File.ReadAllText(Path.Combine(root.FullName, "tests", "Tributary.Server.Tests", "ReadmeFixtureExample.cs"));
        var start = source.IndexOf("// README-EXAMPLE-START\n", StringComparison.Ordinal) + "// README-EXAMPLE-START\n".Length;
        var end = source.IndexOf("// README-EXAMPLE-END", StringComparison.Ordinal);
        var example = source[start..end].Trim();
        var readme = File.ReadAllText(Path.Combine(root.FullName, "README.md"));

        Assert.Contains("```csharp\n" + example + "\n```", readme, StringComparison.Ordinal);
    }
}
