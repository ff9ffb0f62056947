using System.CommandLine;
using System.Text;
using Tributary.Broker.Security.Authorization;
using Tributary.Cli.Output;
using Tributary.Protocol;
using Tributary.Protocol.Messages;

namespace Tributary.Cli.Commands;

/// <summary>
/// <c>tributary acls list|create|delete</c>: what <c>kafka-acls.sh</c> does, through DescribeAcls, CreateAcls and
/// DeleteAcls. Names on the command line are lower-case with dashes (transactional-id, describe-configs); output
/// uses Kafka's upper-case names (TRANSACTIONAL_ID, DESCRIBE_CONFIGS).
/// </summary>
internal static class AclsCommand
{
    private const short Version = 3;
    private const string ClusterName = "kafka-cluster";

    public static Command Create()
    {
        var acls = new Command("acls", """
            List, create and delete ACLs (the broker needs authorizer.class.name set to enforce them).

            Examples:
              tributary acls create --principal User:alice --operation read --resource-type topic --resource-name orders
              tributary acls list --principal User:alice
              tributary acls delete --resource-type topic --resource-name orders
            """);
        acls.Add(List());
        acls.Add(CreateAcl());
        acls.Add(Delete());
        return acls;
    }

    private sealed class FilterOptions
    {
        public Option<string> ResourceType { get; } = Choice<AclResourceType>("--resource-type", "Resource type");

        public Option<string> ResourceName { get; } = new("--resource-name") { Description = $"Resource name ({ClusterName} for the cluster)" };

        public Option<string> PatternType { get; } = Choice<AclPatternType>("--pattern-type", "literal, prefixed (names starting with it), match or any");

        public Option<string> Principal { get; } = new("--principal") { Description = "Principal, User:NAME" };

        public Option<string> Host { get; } = new("--host") { Description = "Host the principal connects from; * for any" };

        public Option<string> Operation { get; } = Choice<AclOperation>("--operation", "Operation");

        public Option<string> Permission { get; } = Choice<AclPermissionType>("--permission", "allow or deny");

        /// <summary>The filter the options give, ANY (or null for names) where an option is left out.</summary>
        public AclFilter Read(ParseResult parse) => new(
            (sbyte)Parse(parse.GetValue(ResourceType), AclResourceType.Any),
            parse.GetValue(ResourceName),
            (sbyte)Parse(parse.GetValue(PatternType), AclPatternType.Any),
            parse.GetValue(Principal),
            parse.GetValue(Host),
            (sbyte)Parse(parse.GetValue(Operation), AclOperation.Any),
            (sbyte)Parse(parse.GetValue(Permission), AclPermissionType.Any));

        public void AddTo(Command command)
        {
            command.Add(ResourceType);
            command.Add(ResourceName);
            command.Add(PatternType);
            command.Add(Principal);
            command.Add(Host);
            command.Add(Operation);
            command.Add(Permission);
        }
    }

    private static Command List()
    {
        var filter = new FilterOptions();
        var command = new Command("list", """
            List the ACLs matching the options given (all when none is).

            Examples:
              tributary acls list
              tributary acls list --resource-type topic --resource-name orders --output json
            """);
        filter.AddTo(command);
        CommonOptions.AddReadOptions(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = CliOutput.For(parse.GetValue(CommonOptions.Output));
            var f = filter.Read(parse);
            var request = new DescribeAclsRequest
            {
                ResourceTypeFilter = f.ResourceType,
                ResourceNameFilter = f.ResourceName,
                PatternTypeFilter = f.PatternType,
                PrincipalFilter = f.Principal,
                HostFilter = f.Host,
                Operation = f.Operation,
                PermissionType = f.Permission,
            };
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var response = await client.SendAsync<DescribeAclsRequest, DescribeAclsResponse>(ApiKey.DescribeAcls, Version, request, cancellationToken).ConfigureAwait(false);
            AdminClient.Check(response.ErrorCode, response.ErrorMessage, "acls list");
            var acls = response.Resources
                .SelectMany(r => r.Acls.Select(a => new AclEntry(
                    Name((AclResourceType)r.ResourceType), r.ResourceName, Name((AclPatternType)r.PatternType), a.Principal, a.Host, Name((AclOperation)a.Operation), Name((AclPermissionType)a.PermissionType))))
                .OrderBy(a => a.ResourceType, StringComparer.Ordinal).ThenBy(a => a.ResourceName, StringComparer.Ordinal).ThenBy(a => a.Principal, StringComparer.Ordinal).ThenBy(a => a.Operation, StringComparer.Ordinal)
                .ToList();
            if (output.IsJson)
            {
                CliOutput.Json(acls, CliJsonContext.Default.ListAclEntry);
            }
            else
            {
                output.Table(
                    ["RESOURCE-TYPE", "RESOURCE-NAME", "PATTERN", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION"],
                    acls.Select(a => (IReadOnlyList<string>)[a.ResourceType, a.ResourceName, a.PatternType, a.Principal, a.Host, a.Operation, a.Permission]));
            }

            return 0;
        });
        return command;
    }

    private static Command CreateAcl()
    {
        var filter = new FilterOptions();
        filter.ResourceType.Required = true;
        filter.Principal.Required = true;
        filter.Operation.Required = true;
        var command = new Command("create", """
            Create an ACL: --permission allow (default) or deny, --pattern-type literal (default) or prefixed, --host *
            (default). The cluster's resource name is kafka-cluster and may be left out.

            Examples:
              tributary acls create --principal User:alice --operation read --resource-type topic --resource-name orders
              tributary acls create --principal User:app --operation write --resource-type topic --resource-name app- --pattern-type prefixed
            """);
        filter.AddTo(command);
        command.Add(CommonOptions.Bootstrap);
        command.Add(CommonOptions.CommandConfig);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var resourceType = Parse(parse.GetValue(filter.ResourceType), AclResourceType.Any);
            var resourceName = parse.GetValue(filter.ResourceName) ?? (resourceType == AclResourceType.Cluster ? ClusterName : throw new UsageException("acls create: --resource-name is required"));
            var creation = new CreateAclsRequest.AclCreation
            {
                ResourceType = (sbyte)resourceType,
                ResourceName = resourceName,
                ResourcePatternType = (sbyte)Parse(parse.GetValue(filter.PatternType), AclPatternType.Literal),
                Principal = parse.GetRequiredValue(filter.Principal),
                Host = parse.GetValue(filter.Host) ?? "*",
                Operation = (sbyte)Parse(parse.GetValue(filter.Operation), AclOperation.Any),
                PermissionType = (sbyte)Parse(parse.GetValue(filter.Permission), AclPermissionType.Allow),
            };
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var response = await client.SendAsync<CreateAclsRequest, CreateAclsResponse>(ApiKey.CreateAcls, Version, new CreateAclsRequest { Creations = [creation] }, cancellationToken).ConfigureAwait(false);
            var result = response.Results[0];
            AdminClient.Check(result.ErrorCode, result.ErrorMessage, "acls create");
            Console.WriteLine($"created: {Name((AclPermissionType)creation.PermissionType)} {creation.Principal} {Name((AclOperation)creation.Operation)} on {Name(resourceType)} {resourceName}");
            return 0;
        });
        return command;
    }

    private static Command Delete()
    {
        var filter = new FilterOptions();
        var command = new Command("delete", """
            Delete every ACL matching the options; at least --resource-type or --principal must be given.

            Examples:
              tributary acls delete --resource-type topic --resource-name orders
              tributary acls delete --principal User:alice
            """);
        filter.AddTo(command);
        command.Add(CommonOptions.Bootstrap);
        command.Add(CommonOptions.CommandConfig);
        command.Validators.Add(result =>
        {
            if (result.GetResult(filter.ResourceType) is null && result.GetResult(filter.Principal) is null)
            {
                result.AddError("acls delete: give --resource-type or --principal (or both)");
            }
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var f = filter.Read(parse);
            var deletion = new DeleteAclsRequest.DeleteAclsFilter
            {
                ResourceTypeFilter = f.ResourceType,
                ResourceNameFilter = f.ResourceName,
                PatternTypeFilter = f.PatternType,
                PrincipalFilter = f.Principal,
                HostFilter = f.Host,
                Operation = f.Operation,
                PermissionType = f.Permission,
            };
            await using var client = await AdminClient.ConnectAsync(parse, cancellationToken).ConfigureAwait(false);
            var response = await client.SendAsync<DeleteAclsRequest, DeleteAclsResponse>(ApiKey.DeleteAcls, Version, new DeleteAclsRequest { Filters = [deletion] }, cancellationToken).ConfigureAwait(false);
            var result = response.FilterResults[0];
            AdminClient.Check(result.ErrorCode, result.ErrorMessage, "acls delete");
            Console.WriteLine($"deleted {result.MatchingAcls.Count} ACL(s)");
            return 0;
        });
        return command;
    }

    /// <summary>An option taking one of the enum's names in lower case with dashes (transactional-id), Unknown left out.</summary>
    private static Option<string> Choice<T>(string name, string description)
        where T : struct, Enum
    {
        var option = new Option<string>(name) { Description = description };
        option.AcceptOnlyFromAmong(StringComparer.OrdinalIgnoreCase, [.. Enum.GetNames<T>().Where(n => n != "Unknown").Select(Dashed)]);
        return option;
    }

    private static T Parse<T>(string? value, T fallback)
        where T : struct, Enum =>
        value is null ? fallback : Enum.Parse<T>(value.Replace("-", "", StringComparison.Ordinal), ignoreCase: true);

    /// <summary>Kafka's display name of an enum value: TransactionalId → TRANSACTIONAL_ID.</summary>
    private static string Name<T>(T value)
        where T : struct, Enum => Words(value.ToString(), '_').ToUpperInvariant();

    private static string Dashed(string pascal) => Words(pascal, '-').ToLowerInvariant();

    private static string Words(string pascal, char separator)
    {
        var text = new StringBuilder();
        foreach (var c in pascal)
        {
            if (char.IsUpper(c) && text.Length > 0)
            {
                text.Append(separator);
            }

            text.Append(c);
        }

        return text.ToString();
    }

    private readonly record struct AclFilter(sbyte ResourceType, string? ResourceName, sbyte PatternType, string? Principal, string? Host, sbyte Operation, sbyte Permission);

    internal sealed record AclEntry(string ResourceType, string ResourceName, string PatternType, string Principal, string Host, string Operation, string Permission);
}
