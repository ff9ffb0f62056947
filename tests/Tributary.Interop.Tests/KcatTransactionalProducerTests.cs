using Tributary.Interop.Tests.Support;
using Tributary.Server;

namespace Tributary.Interop.Tests;

/// <summary>
/// librdkafka's transactional producer through kcat: with <c>transactional.id</c> kcat runs InitProducerId,
/// AddPartitionsToTxn and EndTxn around its input and commits at a clean exit; read_committed readers then see
/// exactly those messages, in order. (kcat has no way to hold a transaction open or abort one from the command
/// line; aborts are proved with kafkajs and by the broker's timeout in ExactlyOnceTests.)
/// </summary>
public sealed class KcatTransactionalProducerTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tributary-interop-kcat-txn-");

    [Fact]
    public async Task KcatTransactionsCommitAndReadCommittedSeesThemInOrder()
    {
        await using var broker = await TributaryBroker.StartAsync(new TributaryBrokerOptions { Topics = { ["kcat-txn"] = 1 } });
        var first = Path.Combine(_work.FullName, "first.txt");
        var second = Path.Combine(_work.FullName, "second.txt");
        await File.WriteAllLinesAsync(first, Enumerable.Range(0, 500).Select(i => $"first-{i}"));
        await File.WriteAllLinesAsync(second, Enumerable.Range(0, 300).Select(i => $"second-{i}"));

        foreach (var (file, id) in new[] { (first, "kcat-txn-1"), (second, "kcat-txn-2") })
        {
            var produced = await KcatRunner.RunAsync(["-P", "-b", broker.BootstrapServers, "-t", "kcat-txn", "-l", "-X", $"transactional.id={id}", file]);
            Assert.True(produced.ExitCode == 0, "kcat transactional produce failed: " + produced.Describe());
            Assert.Contains("Transaction successfully committed", produced.StandardError, StringComparison.Ordinal);
        }

        var readCommitted = await KcatRunner.RunAsync(["-C", "-b", broker.BootstrapServers, "-t", "kcat-txn", "-o", "beginning", "-e", "-q", "-X", "isolation.level=read_committed", "-f", "%s\\n"]);

        Assert.True(readCommitted.ExitCode == 0, readCommitted.Describe());
        var expected = Enumerable.Range(0, 500).Select(i => $"first-{i}").Concat(Enumerable.Range(0, 300).Select(i => $"second-{i}"));
        Assert.Equal(expected, readCommitted.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    public void Dispose() => _work.Delete(recursive: true);
}
