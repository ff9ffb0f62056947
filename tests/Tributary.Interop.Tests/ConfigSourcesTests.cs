using System.Collections;
using Tributary.Broker.Config;
using Tributary.Cli;

namespace Tributary.Interop.Tests;

/// <summary>
/// The CLI's configuration sources: environment variables name broker keys through the table, and --set wins over
/// the environment. No broker is started.
/// </summary>
public sealed class ConfigSourcesTests
{
    [Fact]
    public void Every_broker_key_can_be_set_from_its_environment_variable()
    {
        var environment = new Hashtable();
        foreach (var key in ConfigTable.BrokerKeys)
        {
            environment[ConfigSources.EnvironmentVariable(key.Name)] = key.Default ?? "";
        }

        var (pairs, errors) = ConfigSources.Gather(null, [], environment);

        Assert.Empty(errors);
        Assert.Equal(ConfigTable.BrokerKeys.Select(k => k.Name).Order(), pairs.Select(p => p.Key).Order());
    }

    [Fact]
    public void A_set_wins_over_the_environment_and_an_unknown_variable_is_refused_by_name()
    {
        var environment = new Hashtable { ["TRIBUTARY_NUM_PARTITIONS"] = "2", ["TRIBUTARY_NUM_PARTITONS"] = "3", ["PATH"] = "/bin" };

        var (pairs, errors) = ConfigSources.Gather(null, ["num.partitions=4"], environment);
        var (config, configErrors) = BrokerConfig.Parse(pairs);

        Assert.Empty(errors);
        Assert.Null(config);
        Assert.Equal(["unknown configuration key 'num.partitons'"], configErrors);
        Assert.Equal(4, BrokerConfig.Parse(pairs.Where(p => p.Key == "num.partitions")).Config!.NumPartitions);
    }
}
