using System.Text;
using System.Text.Json;

namespace Tributary.Server.Admin.Console;

/// <summary>
/// Which records a search finds. Fields: <c>key</c> and <c>value</c> (the UTF-8 bytes contain the query),
/// <c>header</c> (a header named <see cref="SearchInput.HeaderKey"/> whose value contains the query; any value when
/// the query is empty) and <c>json</c> (the value is JSON and the field at a path like <c>$.customer.id</c> equals
/// the query: a string's text, or a number's or boolean's JSON text).
/// </summary>
internal sealed class SearchMatcher
{
    /// <summary>Steps in a JSON path.</summary>
    public const int JsonPathStepsMax = 32;

    private readonly string _field;
    private readonly byte[] _query;
    private readonly string _queryText;
    private readonly byte[]? _headerKey;
    private readonly object[] _path = [];

    private SearchMatcher(string field, string query, string? headerKey, object[] path)
    {
        _field = field;
        _queryText = query;
        _query = Encoding.UTF8.GetBytes(query);
        _headerKey = headerKey is null ? null : Encoding.UTF8.GetBytes(headerKey);
        _path = path;
    }

    public string Description => _field switch
    {
        "header" => $"header {Encoding.UTF8.GetString(_headerKey!)} contains \"{_queryText}\"",
        "json" => $"JSON field equals \"{_queryText}\"",
        _ => $"{_field} contains \"{_queryText}\"",
    };

    /// <summary>The matcher for <paramref name="input"/>, or why the input is not a valid search.</summary>
    public static (SearchMatcher? Matcher, string? Error) Create(SearchInput input)
    {
        var field = input.Field ?? "value";
        var query = input.Query ?? "";
        switch (field)
        {
            case "key" or "value":
                return query.Length == 0 ? (null, $"a {field} search needs a query") : (new SearchMatcher(field, query, null, []), null);
            case "header":
                return string.IsNullOrEmpty(input.HeaderKey) ? (null, "a header search needs headerKey") : (new SearchMatcher(field, query, input.HeaderKey, []), null);
            case "json":
                var (path, error) = ParsePath(input.JsonPath);
                return path is null ? (null, error) : (new SearchMatcher(field, query, null, path), null);
            default:
                return (null, $"field must be key, value, header or json, not \"{field}\"");
        }
    }

    public bool Matches(in ScannedRecord scanned)
    {
        var record = scanned.Record;
        switch (_field)
        {
            case "key":
                return record.Key is { } key && key.Span.IndexOf(_query) >= 0;
            case "value":
                return record.Value is { } value && value.Span.IndexOf(_query) >= 0;
            case "header":
                foreach (var header in record.Headers)
                {
                    if (header.KeyEquals(_headerKey) && (_query.Length == 0 || (header.Value is { } v && v.Span.IndexOf(_query) >= 0)))
                    {
                        return true;
                    }
                }

                return false;
            default:
                return record.Value is { } json && JsonFieldEquals(json);
        }
    }

    private bool JsonFieldEquals(ReadOnlyMemory<byte> value)
    {
        var trimmed = value.Span.TrimStart(" \t\r\n"u8);
        if (trimmed.IsEmpty || (trimmed[0] != (byte)'{' && trimmed[0] != (byte)'['))
        {
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(value);
            var element = document.RootElement;
            foreach (var step in _path)
            {
                if (step is string name)
                {
                    if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element))
                    {
                        return false;
                    }
                }
                else if (element.ValueKind != JsonValueKind.Array || (int)step >= element.GetArrayLength())
                {
                    return false;
                }
                else
                {
                    element = element[(int)step];
                }
            }

            return element.ValueKind switch
            {
                JsonValueKind.String => element.ValueEquals(_queryText),
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null => element.GetRawText() == _queryText,
                _ => false,
            };
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>A path of property names and array indexes: <c>$</c>, then <c>.name</c> or <c>[index]</c> steps.</summary>
    private static (object[]? Path, string? Error) ParsePath(string? text)
    {
        if (string.IsNullOrEmpty(text) || text[0] != '$')
        {
            return (null, "jsonPath must start with $, like $.customer.id");
        }

        var steps = new List<object>();
        var i = 1;
        while (i < text.Length)
        {
            if (steps.Count == JsonPathStepsMax)
            {
                return (null, $"jsonPath has more than {JsonPathStepsMax} steps");
            }

            if (text[i] == '.')
            {
                var end = text.IndexOfAny(['.', '['], i + 1);
                end = end < 0 ? text.Length : end;
                if (end == i + 1)
                {
                    return (null, $"jsonPath has an empty name at character {i + 1}");
                }

                steps.Add(text[(i + 1)..end]);
                i = end;
            }
            else if (text[i] == '[')
            {
                var end = text.IndexOf(']', i);
                if (end < 0 || !int.TryParse(text.AsSpan(i + 1, end - i - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index))
                {
                    return (null, $"jsonPath needs an index like [0] at character {i + 1}");
                }

                steps.Add(index);
                i = end + 1;
            }
            else
            {
                return (null, $"jsonPath expects . or [ at character {i + 1}");
            }
        }

        return ([.. steps], null);
    }
}
