using System.CommandLine;
using System.Globalization;
using Tributary.Cli.Output;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Cli.Commands;

/// <summary>
/// <c>tributary quotas list|set</c>: client quotas (KIP-546) through DescribeClientQuotas and AlterClientQuotas, what
/// <c>kafka-configs.sh --entity-type users|clients|ips</c> does for producer_byte_rate, consumer_byte_rate,
/// request_percentage and (ips) connection_creation_rate.
/// </summary>
internal static class QuotasCommand
{
    private const short Version = 1;
    private const string UserEntity = "user";
    private const string ClientEntity = "client-id";
    private const string IpEntity = "ip";
    private const string DefaultName = "<default>";

    // DescribeClientQuotas match types: 0 the exact name, 1 the default entity.
    private const sbyte MatchExact = 0;
    private const sbyte MatchDefault = 1;

    private static readonly Option<string> User = new("--user") { Description = "A user (principal name)" };
    private static readonly Option<bool> UserDefault = new("--user-default") { Description = "The default for users without their own quota" };
    private static readonly Option<string> ClientId = new("--client-id") { Description = "A client id" };
    private static readonly Option<bool> ClientDefault = new("--client-id-default") { Description = "The default for client ids without their own quota" };
    private static readonly Option<string> Ip = new("--ip") { Description = "A client IP address (connection_creation_rate only; not with --user or --client-id)" };
    private static readonly Option<bool> IpDefault = new("--ip-default") { Description = "The default for IP addresses without their own quota" };

    public static Command Create()
    {
        var quotas = new Command("quotas", """
            List and set client quotas (producer_byte_rate, consumer_byte_rate, request_percentage; for
            client IP addresses connection_creation_rate).

            Examples:
              tributary quotas set --user alice --add producer_byte_rate=1048576
              tributary quotas set --ip 10.0.0.7 --add connection_creation_rate=5
              tributary quotas list
            """);
        quotas.Add(List());
        quotas.Add(Set());
        return quotas;
    }

    private static Command List()
    {
        var command = new Command("list", """
            List quotas: all of them, or those of the entity the options name.

            Examples:
              tributary quotas list
              tributary quotas list --user alice --output json
              tributary quotas list --ip-default
            """)
        {
            User, UserDefault, ClientId, ClientDefault, Ip, IpDefault,
        };
        CommonOptions.AddReadOptions(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = CliOutput.For(parse.GetValue(CommonOptions.Output));
            var request = new DescribeClientQuotasRequest
            {
                Components = [.. Entity(parse).Select(e => new DescribeClientQuotasRequest.ComponentData
                {
                    EntityType = e.Type,
                    MatchType = e.Name is null ? MatchDefault : MatchExact,
                    Match = e.Name,
                })],
                Strict = false,
            };
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var response = await client.SendAsync<DescribeClientQuotasRequest, DescribeClientQuotasResponse>(ApiKey.DescribeClientQuotas, Version, request, cancellationToken).ConfigureAwait(false);
            AdminClient.Check(response.ErrorCode, response.ErrorMessage, "quotas list");
            var quotas = (response.Entries ?? [])
                .SelectMany(e => e.Values.Select(v => new QuotaEntry(string.Join(',', e.Entity.OrderBy(x => x.EntityType, StringComparer.Ordinal).Select(x => $"{x.EntityType}={x.EntityName ?? DefaultName}")), v.Key, v.Value)))
                .OrderBy(q => q.Entity, StringComparer.Ordinal).ThenBy(q => q.Key, StringComparer.Ordinal)
                .ToList();
            if (output.IsJson)
            {
                CliOutput.Json(quotas, CliJsonContext.Default.ListQuotaEntry);
            }
            else
            {
                output.Table(["ENTITY", "QUOTA", "VALUE"], quotas.Select(q => (IReadOnlyList<string>)[q.Entity, q.Key, q.Value.ToString(CultureInfo.InvariantCulture)]));
            }

            return 0;
        });
        return command;
    }

    private static Command Set()
    {
        var add = CommonOptions.KeyValues("--add", "Set a quota, repeatable: --add producer_byte_rate=1048576");
        var remove = new Option<string[]>("--remove") { Description = "Remove a quota, repeatable", HelpName = "KEY" };
        var command = new Command("set", """
            Set or remove quotas of a user, a client id, or both together (a user's quota for one client id),
            or the connection_creation_rate of a client IP address.

            Examples:
              tributary quotas set --user alice --add producer_byte_rate=1048576 --add consumer_byte_rate=2097152
              tributary quotas set --client-id-default --add request_percentage=50
              tributary quotas set --user alice --remove producer_byte_rate
              tributary quotas set --ip-default --add connection_creation_rate=20
            """)
        {
            User, UserDefault, ClientId, ClientDefault, Ip, IpDefault, add, remove, CommonOptions.Bootstrap, CommonOptions.CommandConfig,
        };
        command.Validators.Add(result =>
        {
            foreach (var token in result.GetResult(add)?.Tokens ?? [])
            {
                var eq = token.Value.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0 && !double.TryParse(token.Value.AsSpan(eq + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                {
                    result.AddError($"--add '{token.Value}': the value must be a number");
                    return;
                }
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var entity = Entity(parse);
            if (entity.Count == 0)
            {
                throw new UsageException("quotas set: name the entity with --user, --user-default, --client-id, --client-id-default, --ip or --ip-default");
            }

            var ops = (parse.GetValue(add) ?? []).Select(CommonOptions.Split)
                .Select(kv => new AlterClientQuotasRequest.OpData { Key = kv.Key, Value = double.Parse(kv.Value, CultureInfo.InvariantCulture), Remove = false })
                .Concat((parse.GetValue(remove) ?? []).Select(k => new AlterClientQuotasRequest.OpData { Key = k, Remove = true }))
                .ToList();
            if (ops.Count == 0)
            {
                throw new UsageException("quotas set: give at least one --add or --remove");
            }

            var request = new AlterClientQuotasRequest
            {
                Entries = [new AlterClientQuotasRequest.EntryData { Entity = [.. entity.Select(e => new AlterClientQuotasRequest.EntityData { EntityType = e.Type, EntityName = e.Name })], Ops = ops }],
            };
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var response = await client.SendAsync<AlterClientQuotasRequest, AlterClientQuotasResponse>(ApiKey.AlterClientQuotas, Version, request, cancellationToken).ConfigureAwait(false);
            foreach (var entry in response.Entries)
            {
                AdminClient.Check(entry.ErrorCode, entry.ErrorMessage, "quotas set");
            }

            Console.WriteLine($"altered quotas of {string.Join(',', entity.Select(e => $"{e.Type}={e.Name ?? DefaultName}"))}");
            return 0;
        });
        return command;
    }

    /// <summary>The entity the options name; a null name is the default entity of that type.</summary>
    private static List<(string Type, string? Name)> Entity(ParseResult parse)
    {
        var entity = new List<(string Type, string? Name)>();
        if (parse.GetValue(User) is { } user)
        {
            entity.Add((UserEntity, user));
        }
        else if (parse.GetValue(UserDefault))
        {
            entity.Add((UserEntity, null));
        }

        if (parse.GetValue(ClientId) is { } clientId)
        {
            entity.Add((ClientEntity, clientId));
        }
        else if (parse.GetValue(ClientDefault))
        {
            entity.Add((ClientEntity, null));
        }

        // Passed on with user or client-id too: the broker refuses the combination with Kafka's message.
        if (parse.GetValue(Ip) is { } ip)
        {
            entity.Add((IpEntity, ip));
        }
        else if (parse.GetValue(IpDefault))
        {
            entity.Add((IpEntity, null));
        }

        return entity;
    }

    internal sealed record QuotaEntry(string Entity, string Key, double Value);
}
