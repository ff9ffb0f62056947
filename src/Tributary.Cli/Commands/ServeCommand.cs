using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Tributary.Broker.Config;
using Tributary.Server;
using Tributary.Server.Hosting;

namespace Tributary.Cli.Commands;

/// <summary>
/// <c>tributary serve</c> (also the root command with no subcommand): starts the broker from, in rising
/// precedence, a properties file, TRIBUTARY_* environment variables and <c>--set key=value</c>
/// (<see cref="ConfigSources"/>), and runs until SIGINT or SIGTERM.
/// </summary>
internal static class ServeCommand
{
    private const string Description = """
        Start the broker and run until Ctrl+C or SIGTERM.
        Configuration, later sources winning: --config FILE (Kafka's server.properties format), TRIBUTARY_* environment
        variables (TRIBUTARY_NUM_PARTITIONS=3 sets num.partitions), --set KEY=VALUE. Keys use Kafka's names.

        Examples:
          tributary serve --set listeners=PLAINTEXT://127.0.0.1:9092 --set log.dirs=/var/lib/tributary
          tributary serve --config server.properties --set num.partitions=3
        """;

    private static readonly Option<string?> ConfigFile = new("--config", "-c") { Description = "A properties file of broker configuration", HelpName = "FILE" };

    private static readonly Option<string[]> Sets = new("--set", "-s") { Description = "One configuration key, repeatable: --set num.partitions=3", HelpName = "KEY=VALUE" };

    public static Command Create()
    {
        var command = new Command("serve", Description);
        AddTo(command);
        return command;
    }

    /// <summary>Adds the serve options and action to <paramref name="command"/> (the root runs the broker too).</summary>
    public static void AddTo(Command command)
    {
        command.Add(ConfigFile);
        command.Add(Sets);
        command.SetAction((parse, _) => ServeAsync(parse.GetValue(ConfigFile), parse.GetValue(Sets) ?? []));
    }

    private static async Task<int> ServeAsync(string? configFile, string[] sets)
    {
        var (pairs, errors) = ConfigSources.Gather(configFile, sets, Environment.GetEnvironmentVariables());
        var (config, configErrors) = BrokerConfig.Parse(pairs);
        errors.AddRange(configErrors);
        if (config is null || errors.Count > 0)
        {
            foreach (var e in errors)
            {
                Console.Error.WriteLine($"tributary: {e}");
            }

            return 2;
        }

        using var loggerFactory = ConsoleLogging.CreateLoggerFactory(LogLevel.Information);
        var logger = loggerFactory.CreateLogger("Tributary");
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c =>
        {
            c.Cancel = true;
            stopped.TrySetResult();
        });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stopped.TrySetResult();
        });

        TributaryBroker started;
        try
        {
            started = await TributaryBroker.StartAsync(config, loggerFactory).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            // A data directory another broker holds, a port already taken, an unwritable disk, an unreadable metadata
            // snapshot: say which, no stack trace.
            var reason = e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException
                ? $"cannot listen on {config.ListenerHost}:{config.ListenerPort}: the address is already in use"
                : e.Message;
            ConsoleLogging.WriteNow(LogLevel.Critical, "Tributary", $"Not started: {reason}");
            return 1;
        }

        await using var broker = started;
        logger.LogInformation("Tributary listening on {Bootstrap} (data: {Data})", broker.BootstrapServers, config.InMemoryStorage ? "in memory" : Path.GetFullPath(config.LogDir));
        ReleaseStartupGarbage();
        await stopped.Task.ConfigureAwait(false);
        logger.LogInformation("Stopping");
        await broker.StopAsync().ConfigureAwait(false);
        logger.LogInformation("Stopped cleanly");
        return 0;
    }

    // Start-up leaves megabytes of garbage (the admin listener's DI container, configuration, the metrics exporter's
    // set-up) in a heap that has not been collected yet, so it stays resident while the broker idles. One full
    // compacting collection once both listeners are up (the admin listener starts after the Kafka listener answers)
    // frees it and returns the emptied regions to the operating system; it runs once per process.
    private static void ReleaseStartupGarbage() =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
}
