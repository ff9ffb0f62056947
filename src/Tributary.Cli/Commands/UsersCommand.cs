using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using Tributary.Broker.Security;
using Tributary.Cli.Output;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Cli.Commands;

/// <summary>
/// <c>tributary users list|set|delete</c>: SCRAM credentials (KIP-554) through DescribeUserScramCredentials and
/// AlterUserScramCredentials, what <c>kafka-configs.sh --entity-type users --alter --add-config SCRAM-SHA-256=[...]</c>
/// does. The password never travels: the CLI sends a random salt and the salted password, as Kafka's admin client does.
/// </summary>
internal static class UsersCommand
{
    private const short Version = 0;
    private const int SaltBytes = 32;

    // KIP-554's mechanism codes.
    private static readonly Dictionary<string, sbyte> Mechanisms = new(StringComparer.OrdinalIgnoreCase) { ["SCRAM-SHA-256"] = 1, ["SCRAM-SHA-512"] = 2 };

    public static Command Create()
    {
        var users = new Command("users", """
            List, set and delete users' SCRAM credentials (SASL/SCRAM-SHA-256 and -512).

            Examples:
              tributary users set alice --password alice-secret
              tributary users list
            """);
        users.Add(List());
        users.Add(Set());
        users.Add(Delete());
        return users;
    }

    private static Command List()
    {
        var names = new Argument<string[]>("user") { Description = "Only these users (default: all)", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("list", """
            List users with SCRAM credentials: each mechanism and its iteration count.

            Examples:
              tributary users list
              tributary users list alice --output json
            """)
        {
            names,
        };
        CommonOptions.AddReadOptions(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = CliOutput.For(parse.GetValue(CommonOptions.Output));
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var wanted = parse.GetValue(names) ?? [];
            var users = await DescribeAsync(client, wanted, cancellationToken).ConfigureAwait(false);
            if (output.IsJson)
            {
                CliOutput.Json(users, CliJsonContext.Default.ListUserCredential);
            }
            else
            {
                output.Table(["USER", "MECHANISM", "ITERATIONS"], users.Select(u => (IReadOnlyList<string>)[u.User, u.Mechanism, u.Iterations.ToString(CultureInfo.InvariantCulture)]));
            }

            return 0;
        });
        return command;
    }

    private static async Task<List<UserCredential>> DescribeAsync(Server.Client.KafkaWireClient client, string[] names, CancellationToken cancellationToken)
    {
        var request = new DescribeUserScramCredentialsRequest { Users = names.Length == 0 ? null : [.. names.Select(n => new DescribeUserScramCredentialsRequest.UserName { Name = n })] };
        var response = await client.SendAsync<DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse>(ApiKey.DescribeUserScramCredentials, Version, request, cancellationToken).ConfigureAwait(false);
        AdminClient.Check(response.ErrorCode, response.ErrorMessage, "users");
        var users = new List<UserCredential>();
        foreach (var result in response.Results.OrderBy(r => r.User, StringComparer.Ordinal))
        {
            if (result.ErrorCode == (short)ErrorCode.ResourceNotFound)
            {
                throw new CliException($"user {result.User} has no SCRAM credentials");
            }

            AdminClient.Check(result.ErrorCode, result.ErrorMessage, $"user {result.User}");
            users.AddRange(result.CredentialInfos.OrderBy(c => c.Mechanism).Select(c => new UserCredential(result.User, MechanismName(c.Mechanism), c.Iterations)));
        }

        return users;
    }

    private static Command Set()
    {
        var name = new Argument<string>("user") { Description = "The user's name" };
        var password = new Option<string>("--password") { Description = "The password", Required = true };
        var mechanism = MechanismOption();
        var iterations = CommonOptions.Int32("--iterations", $"PBKDF2 iterations, {Scram.IterationsMin} to {Scram.IterationsMax} (default {Scram.IterationsMin})", Scram.IterationsMin);
        var command = new Command("set", """
            Create or replace a user's SCRAM credential.

            Examples:
              tributary users set alice --password alice-secret
              tributary users set bob --password bob-secret --mechanism SCRAM-SHA-512 --iterations 8192
            """)
        {
            name, password, mechanism, iterations, CommonOptions.Bootstrap, CommonOptions.CommandConfig,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var user = parse.GetRequiredValue(name);
            var mechanismName = parse.GetValue(mechanism)!.ToUpperInvariant();
            var count = parse.GetResult(iterations) is null ? Scram.IterationsMin : parse.GetValue(iterations);
            var salt = RandomNumberGenerator.GetBytes(SaltBytes);
            var request = new AlterUserScramCredentialsRequest
            {
                Upsertions =
                [
                    new AlterUserScramCredentialsRequest.ScramCredentialUpsertion
                    {
                        Name = user,
                        Mechanism = Mechanisms[mechanismName],
                        Iterations = count,
                        Salt = salt,
                        SaltedPassword = Scram.SaltedPassword(mechanismName, parse.GetRequiredValue(password), salt, count),
                    },
                ],
            };
            await AlterAsync(parse, request, cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"set {mechanismName} credential of {user}");
            return 0;
        });
        return command;
    }

    private static Command Delete()
    {
        var name = new Argument<string>("user") { Description = "The user's name" };
        var mechanism = MechanismOption();
        var command = new Command("delete", """
            Delete a user's SCRAM credentials: the one --mechanism names, or all of them.

            Examples:
              tributary users delete alice
              tributary users delete alice --mechanism SCRAM-SHA-512
            """)
        {
            name, mechanism, CommonOptions.Bootstrap, CommonOptions.CommandConfig,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var user = parse.GetRequiredValue(name);
            List<string> mechanisms;
            if (parse.GetResult(mechanism) is not null)
            {
                mechanisms = [parse.GetValue(mechanism)!.ToUpperInvariant()];
            }
            else
            {
                await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
                mechanisms = [.. (await DescribeAsync(client, [user], cancellationToken).ConfigureAwait(false)).Select(c => c.Mechanism)];
            }

            var request = new AlterUserScramCredentialsRequest
            {
                Deletions = [.. mechanisms.Select(m => new AlterUserScramCredentialsRequest.ScramCredentialDeletion { Name = user, Mechanism = Mechanisms[m] })],
            };
            await AlterAsync(parse, request, cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"deleted {string.Join(", ", mechanisms)} credential(s) of {user}");
            return 0;
        });
        return command;
    }

    private static async Task AlterAsync(ParseResult parse, AlterUserScramCredentialsRequest request, CancellationToken cancellationToken)
    {
        await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
        var response = await client.SendAsync<AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse>(ApiKey.AlterUserScramCredentials, Version, request, cancellationToken).ConfigureAwait(false);
        foreach (var result in response.Results)
        {
            AdminClient.Check(result.ErrorCode, result.ErrorMessage, $"user {result.User}");
        }
    }

    private static Option<string> MechanismOption()
    {
        var option = new Option<string>("--mechanism") { Description = "SCRAM-SHA-256 (default) or SCRAM-SHA-512", DefaultValueFactory = _ => "SCRAM-SHA-256" };
        option.AcceptOnlyFromAmong(StringComparer.OrdinalIgnoreCase, [.. Mechanisms.Keys]);
        return option;
    }

    private static string MechanismName(sbyte code) => Mechanisms.FirstOrDefault(m => m.Value == code).Key ?? $"UNKNOWN({code})";

    internal sealed record UserCredential(string User, string Mechanism, int Iterations);
}
