using System.CommandLine;
using System.CommandLine.Invocation;
using System.Net.Sockets;
using Tributary.Cli.Commands;
using Tributary.Protocol;

namespace Tributary.Cli;

/// <summary>
/// The <c>tributary</c> command tree on System.CommandLine. A bad command line (unknown option or command, a value
/// that does not parse) is one line on stderr and exit code 2; a command that fails at run time (broker unreachable,
/// topic missing, request refused) is one line and exit code 1. No stack trace reaches the user.
/// </summary>
public static class TributaryCommand
{
    private const int UsageExitCode = 2;
    private const int FailureExitCode = 1;

    private const string Description = """
        Tributary, a Kafka-compatible event-streaming broker. With no command it starts the broker, as 'serve' does.

        Examples:
          tributary                                            start on 127.0.0.1:9092, data in ./data
          tributary --set listeners=PLAINTEXT://0.0.0.0:9092   configuration keys use Kafka's names
          tributary topics create orders --partitions 4
          tributary groups describe my-group --output json

        Tab completion: install dotnet-suggest (dotnet tool install -g dotnet-suggest), add its shell shim
        (https://aka.ms/dotnet-suggest) and register this command: dotnet-suggest register --command-path "$(command -v tributary)".
        """;

    public static RootCommand Build()
    {
        var root = new RootCommand(Description);
        ServeCommand.AddTo(root);
        root.Add(ServeCommand.Create());
        root.Add(TopicsCommand.Create());
        root.Add(GroupsCommand.Create());
        root.Add(ProduceCommand.Create());
        root.Add(ConsumeCommand.Create());
        root.Add(AclsCommand.Create());
        root.Add(UsersCommand.Create());
        root.Add(QuotasCommand.Create());
        root.Add(ClusterCommand.Create());
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var parse = Build().Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            var first = parse.Errors[0].Message.ReplaceLineEndings(" ").TrimEnd('.');
            var path = string.Join(' ', CommandPath(parse.CommandResult));
            Console.Error.WriteLine($"tributary: {first} (see '{path} --help')");
            return UsageExitCode;
        }

        try
        {
            // The broker stops on SIGINT/SIGTERM itself (ServeCommand); a 2-second forced exit would cut its flush short.
            // The other commands (consume: commit and leave the group) stop through their cancellation token.
            var serving = parse.CommandResult.Command is RootCommand || parse.CommandResult.Command.Name == "serve";
            var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
            if (serving)
            {
                configuration.ProcessTerminationTimeout = null;
            }

            return await parse.InvokeAsync(configuration).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"tributary: {e.Message}");
            return UsageExitCode;
        }
        catch (CliException e)
        {
            return Fail(e.Message);
        }
        catch (SocketException e)
        {
            return Fail($"cannot reach the broker at {parse.GetValue(CommonOptions.Bootstrap)}: {e.Message}");
        }
        catch (EndOfStreamException)
        {
            return Fail("the broker closed the connection (it may not serve this request)");
        }
        catch (ProtocolException e)
        {
            return Fail($"unreadable response: {e.Reason}");
        }
        catch (Exception e)
        {
            // Anything else is a bug or an I/O failure: one line, still no stack trace.
            return Fail($"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"tributary: {message}");
        return FailureExitCode;
    }

    private static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult? command)
    {
        var names = new Stack<string>();
        for (var c = command; c is not null; c = c.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Push(c.Command is RootCommand ? "tributary" : c.Command.Name);
        }

        return names;
    }
}
