namespace Tributary.Server.Tests;

/// <summary>
/// README's "Use it in your tests" shows the code of examples/xunit-v2 and examples/xunit-v3, which the solution
/// builds and runs: each file appears in README whole, as one C# block, so the two cannot drift apart.
/// </summary>
public sealed class ReadmeExampleTests
{
    [Theory]
    [InlineData("examples/xunit-v2/KafkaFixture.cs")]
    [InlineData("examples/xunit-v2/OrderTests.cs")]
    [InlineData("examples/xunit-v2/Librdkafka.cs")]
    [InlineData("examples/xunit-v3/KafkaFixture.cs")]
    [InlineData("examples/xunit-v3/OrderTests.cs")]
    public void ReadmeShowsTheExampleFile(string path)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Tributary.slnx")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var example = File.ReadAllText(Path.Combine(root.FullName, path)).Trim();
        var readme = File.ReadAllText(Path.Combine(root.FullName, "README.md"));

        Assert.Contains("```csharp\n" + example + "\n```", readme, StringComparison.Ordinal);
    }
}
