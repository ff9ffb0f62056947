using System.Globalization;
using System.Text.Json;

namespace Tributary.ProtocolGen;

/// <summary>A version range from a schema: "3", "0-7", "4+" or "none".</summary>
internal readonly record struct Versions(short Min, short Max)
{
    public static readonly Versions None = new(1, 0);
    public static readonly Versions All = new(0, short.MaxValue);

    public bool IsEmpty => Min > Max;

    public bool Contains(short version) => version >= Min && version <= Max;

    public static Versions Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text == "none")
        {
            return None;
        }

        if (text.EndsWith('+'))
        {
            return new Versions(short.Parse(text[..^1], CultureInfo.InvariantCulture), short.MaxValue);
        }

        var dash = text.IndexOf('-');
        return dash < 0
            ? new Versions(short.Parse(text, CultureInfo.InvariantCulture), short.Parse(text, CultureInfo.InvariantCulture))
            : new Versions(short.Parse(text[..dash], CultureInfo.InvariantCulture), short.Parse(text[(dash + 1)..], CultureInfo.InvariantCulture));
    }

    public Versions Intersect(Versions other) => new(Math.Max(Min, other.Min), Math.Min(Max, other.Max));

    /// <summary>A C# condition on the variable <c>version</c> that holds inside this range, limited to the message's valid versions.</summary>
    public string Condition(Versions valid, string variable = "version")
    {
        var r = Intersect(valid);
        if (r.IsEmpty)
        {
            return "false";
        }

        if (r.Min <= valid.Min && r.Max >= valid.Max)
        {
            return "true";
        }

        if (r.Min <= valid.Min)
        {
            return $"{variable} <= {r.Max}";
        }

        if (r.Max >= valid.Max)
        {
            return $"{variable} >= {r.Min}";
        }

        return r.Min == r.Max ? $"{variable} == {r.Min}" : $"({variable} >= {r.Min} && {variable} <= {r.Max})";
    }
}

internal sealed class FieldSpec
{
    public required string Name { get; init; }
    public required string Type { get; init; }
    public required Versions Versions { get; init; }
    public Versions NullableVersions { get; init; } = Versions.None;
    public Versions TaggedVersions { get; init; } = Versions.None;
    public int? Tag { get; init; }
    public string? Default { get; init; }
    public bool Ignorable { get; init; }
    public bool MapKey { get; init; }
    public Versions? FlexibleVersions { get; init; }
    public List<FieldSpec>? Fields { get; init; }

    public bool IsArray => Type.StartsWith("[]", StringComparison.Ordinal);

    public string ElementType => IsArray ? Type[2..] : Type;

    public bool IsNullableSomewhere => !NullableVersions.IsEmpty;

    public bool IsTagged => Tag.HasValue;
}

internal sealed class MessageSpec
{
    public required string Name { get; init; }
    public required string Type { get; init; }
    public short? ApiKey { get; init; }
    public required Versions ValidVersions { get; init; }
    public required Versions FlexibleVersions { get; init; }
    public required List<FieldSpec> Fields { get; init; }
    public required List<(string Name, List<FieldSpec> Fields)> CommonStructs { get; init; }
    public required string FileName { get; init; }

    /// <summary>The highest version is still in development upstream: not to be advertised.</summary>
    public bool LatestVersionUnstable { get; init; }

    /// <summary>A schema whose validVersions are "none": the API key is reserved but no version exists.</summary>
    public bool IsRemoved => ValidVersions.IsEmpty;

    /// <summary>A coordinator record of an internal topic (its <see cref="ApiKey"/> is the record type).</summary>
    public bool IsCoordinatorRecord => Type is "coordinator-key" or "coordinator-value";

    /// <summary>The namespace the class goes in, below Tributary.Protocol.</summary>
    public string Namespace => IsCoordinatorRecord ? "CoordinatorRecords" : "Messages";

    /// <summary>The highest version that may be advertised and served.</summary>
    public short HighestStableVersion => LatestVersionUnstable ? (short)(ValidVersions.Max - 1) : ValidVersions.Max;

    public static MessageSpec Load(string path)
    {
        // The schema files are JSON with '//' comment lines (the license header among them): strip them first.
        var json = string.Join('\n', File.ReadAllLines(path).Where(l => !l.TrimStart().StartsWith("//", StringComparison.Ordinal)));
        using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var root = doc.RootElement;
        var common = new List<(string, List<FieldSpec>)>();
        if (root.TryGetProperty("commonStructs", out var cs))
        {
            foreach (var s in cs.EnumerateArray())
            {
                common.Add((s.GetProperty("name").GetString()!, ParseFields(s.GetProperty("fields"))));
            }
        }

        var name = root.GetProperty("name").GetString()!;
        var fields = root.TryGetProperty("fields", out var f0) ? ParseFields(f0) : [];
        LegacyVersions.AddRemovedFields(name, fields);
        return new MessageSpec
        {
            Name = name,
            Type = root.GetProperty("type").GetString()!,
            ApiKey = root.TryGetProperty("apiKey", out var k) ? short.Parse(k.ToString(), CultureInfo.InvariantCulture) : null,
            ValidVersions = LegacyVersions.Extend(name, Versions.Parse(root.GetProperty("validVersions").GetString())),
            FlexibleVersions = Versions.Parse(root.TryGetProperty("flexibleVersions", out var f) ? f.GetString() : "none"),
            LatestVersionUnstable = Flag(root, "latestVersionUnstable"),
            Fields = fields,
            CommonStructs = common,
            FileName = Path.GetFileName(path),
        };
    }

    /// <summary>A boolean attribute, which a few schemas write as a string ("true").</summary>
    private static bool Flag(JsonElement element, string name) =>
        element.TryGetProperty(name, out var v) && (v.ValueKind == JsonValueKind.True || (v.ValueKind == JsonValueKind.String && bool.Parse(v.GetString()!)));

    private static List<FieldSpec> ParseFields(JsonElement array)
    {
        var list = new List<FieldSpec>();
        foreach (var e in array.EnumerateArray())
        {
            string? Str(string name) => e.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.ToString() : null;
            list.Add(new FieldSpec
            {
                // A few schemas spell a field in camelCase (CreateTopicsRequest.timeoutMs): C# properties are PascalCase.
                Name = char.ToUpperInvariant(Str("name")![0]) + Str("name")![1..],
                Type = Str("type")!,
                Versions = Versions.Parse(Str("versions")),
                NullableVersions = Versions.Parse(Str("nullableVersions")),
                TaggedVersions = Versions.Parse(Str("taggedVersions")),
                Tag = Str("tag") is { } tag ? int.Parse(tag, CultureInfo.InvariantCulture) : null,
                Default = Str("default"),
                Ignorable = Flag(e, "ignorable"),
                MapKey = Flag(e, "mapKey"),
                FlexibleVersions = Str("flexibleVersions") is { } fv ? Versions.Parse(fv) : null,
                Fields = e.TryGetProperty("fields", out var sub) ? ParseFields(sub) : null,
            });
        }

        return list;
    }
}
