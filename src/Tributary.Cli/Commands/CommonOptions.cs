using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;
using Tributary.Cli.Connection;

namespace Tributary.Cli.Commands;

/// <summary>
/// Options the client commands share (<c>--bootstrap</c>, <c>--command-config</c>, <c>--output</c>) and parsers for numbers and key=value
/// pairs that answer a bad value with one line naming the option, never an exception.
/// </summary>
internal static class CommonOptions
{
    public const string DefaultBootstrap = "127.0.0.1:9092";
    public const string TableFormat = "table";
    public const string JsonFormat = "json";

    public static readonly Option<string> Bootstrap = new("--bootstrap", "--bootstrap-server", "-b")
    {
        Description = "The broker to talk to, HOST:PORT",
        HelpName = "HOST:PORT",
        DefaultValueFactory = _ => DefaultBootstrap,
        CustomParser = ParseBootstrap,
    };

    /// <summary>Names the properties file when <c>--command-config</c> is not given.</summary>
    public const string CommandConfigVariable = "TRIBUTARY_COMMAND_CONFIG";

    /// <summary>How to secure the connection: Kafka's <c>--command-config client.properties</c>, read and checked while parsing.</summary>
    public static readonly Option<ClientSecurity> CommandConfig = new("--command-config")
    {
        Description = $"A Kafka client properties file: security.protocol, sasl.mechanism, sasl.jaas.config, ssl.truststore.location, … (default: ${CommandConfigVariable}, else plaintext)",
        HelpName = "FILE",
        CustomParser = result => LoadCommandConfig(result, result.Tokens.Count > 0 ? result.Tokens[^1].Value : ""),
        DefaultValueFactory = result => Environment.GetEnvironmentVariable(CommandConfigVariable) is { Length: > 0 } path
            ? LoadCommandConfig(result, path)
            : ClientSecurity.Plaintext,
    };

    public static readonly Option<string> Output = CreateOutput();

    private static Option<string> CreateOutput()
    {
        var option = new Option<string>("--output", "-o")
        {
            Description = "table: a table on a terminal, tab-separated text when redirected; json: one JSON document",
            DefaultValueFactory = _ => TableFormat,
        };
        option.AcceptOnlyFromAmong(TableFormat, JsonFormat);
        return option;
    }

    /// <summary>The option and argument lists of a command that only reads.</summary>
    public static void AddReadOptions(Command command)
    {
        command.Add(Bootstrap);
        command.Add(CommandConfig);
        command.Add(Output);
    }

    /// <summary>The connection settings of a parsed command line (plaintext unless --command-config or its variable names a file).</summary>
    public static ClientSecurity Security(ParseResult parse) => parse.GetValue(CommandConfig) ?? ClientSecurity.Plaintext;

    private static ClientSecurity LoadCommandConfig(ArgumentResult result, string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            result.AddError($"--command-config '{path}': {e.Message}");
            return ClientSecurity.Plaintext;
        }

        var ignored = new List<string>();
        var (security, error) = ClientSecurity.FromProperties(ClientProperties.Parse(text), ignored);
        foreach (var key in ignored)
        {
            Console.Error.WriteLine($"tributary: {path}: '{key}' is not a setting the CLI knows; ignored");
        }

        if (security is null)
        {
            result.AddError($"--command-config '{path}': {error}");
            return ClientSecurity.Plaintext;
        }

        return security;
    }

    /// <summary>HOST:PORT with a port from 1 to 65535; an IPv6 host is written in brackets, [::1]:9092.</summary>
    private static string ParseBootstrap(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        var colon = text.LastIndexOf(':');
        if (colon > 0
            && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            && port is >= 1 and <= 65535)
        {
            return text;
        }

        result.AddError($"--bootstrap '{text}': expected HOST:PORT with a port from 1 to 65535");
        return DefaultBootstrap;
    }

    /// <summary>An int option that takes whole numbers from <paramref name="min"/> to int.MaxValue.</summary>
    public static Option<int> Int32(string name, string description, int min) => new(name)
    {
        Description = description,
        HelpName = "N",
        CustomParser = result => Number(result, name, min) ?? min,
    };

    /// <summary>A long option that takes whole numbers from <paramref name="min"/> to long.MaxValue.</summary>
    public static Option<long?> Int64(string name, string description, long min) => new(name)
    {
        Description = description,
        HelpName = "N",
        CustomParser = result => Number(result, name, min),
    };

    /// <summary>The option's value as a whole number from <paramref name="min"/> up, or null with a one-line error naming the option.</summary>
    private static T? Number<T>(ArgumentResult result, string name, T min)
        where T : struct, IBinaryInteger<T>, IMinMaxValue<T>
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (T.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min)
        {
            return value;
        }

        result.AddError($"{name} '{text}': expected a whole number from {min} to {T.MaxValue}");
        return null;
    }

    /// <summary>A repeatable key=value option; each value must have a key before its '='.</summary>
    public static Option<string[]> KeyValues(string name, string description, params string[] aliases)
    {
        var option = new Option<string[]>(name, aliases) { Description = description, HelpName = "KEY=VALUE" };
        option.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (token.Value.IndexOf('=', StringComparison.Ordinal) <= 0)
                {
                    result.AddError($"{name} '{token.Value}': expected KEY=VALUE");
                    return;
                }
            }
        });
        return option;
    }

    /// <summary>Splits KEY=VALUE at its first '='.</summary>
    public static (string Key, string Value) Split(string pair)
    {
        var eq = pair.IndexOf('=', StringComparison.Ordinal);
        return (pair[..eq].Trim(), pair[(eq + 1)..].Trim());
    }
}
