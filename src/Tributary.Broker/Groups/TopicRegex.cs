using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Tributary.Broker.Metadata;

namespace Tributary.Broker.Groups;

/// <summary>
/// A KIP-848 SubscribedTopicRegex, resolved on the broker. Kafka compiles it with RE2/J and matches whole topic names
/// (<c>matcher(topic).matches()</c>); .NET's non-backtracking engine gives the same linear-time guarantee, so a hostile
/// pattern cannot stall the coordinator. Internal topics never match.
/// </summary>
internal sealed class TopicRegex
{
    /// <summary>
    /// Kafka sets no limit; this one bounds the cost of building a pattern's automaton. .NET refuses on its own a pattern
    /// whose automaton would exceed 10,000 nodes (e.g. "a{20000}"), which is also answered as an invalid regex.
    /// </summary>
    public const int PatternLengthMax = 1000;

    /// <summary>Compiled patterns kept for reuse (clients repeat theirs in heartbeats); emptied when full.</summary>
    private const int CachedCountMax = 1024;

    private static readonly ConcurrentDictionary<string, TopicRegex> Cache = new(StringComparer.Ordinal);

    private readonly Regex _regex;

    private TopicRegex(string pattern, Regex regex)
    {
        Pattern = pattern;
        _regex = regex;
    }

    public string Pattern { get; }

    /// <summary>Compiles <paramref name="pattern"/>; null with the reason when it is not a valid (RE2-like) regex.</summary>
    public static TopicRegex? TryCreate(string pattern, out string? error)
    {
        if (Cache.TryGetValue(pattern, out var cached))
        {
            error = null;
            return cached;
        }

        var created = Compile(pattern, out error);
        if (created is not null)
        {
            if (Cache.Count >= CachedCountMax)
            {
                Cache.Clear();
            }

            Cache[pattern] = created;
        }

        return created;
    }

    public bool Matches(TopicInfo topic) => !topic.IsInternal && _regex.IsMatch(topic.Name);

    private static TopicRegex? Compile(string pattern, out string? error)
    {
        error = pattern.Length > PatternLengthMax ? $"it is longer than {PatternLengthMax} characters"
            : EnablesVerboseOrExplicitCapture(pattern) ? "the flags x and n are not RE2 syntax"
            : null;
        if (error is not null)
        {
            return null;
        }

        try
        {
            const RegexOptions options = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;

            // The pattern is parsed alone first, so an unbalanced ")" cannot pair with the anchoring group.
            _ = new Regex(pattern, options);
            return new TopicRegex(pattern, new Regex(@"\A(?:" + pattern + @")\z", options));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            // NotSupportedException: backreferences, lookarounds and the like, which RE2 refuses as well.
            error = e.Message;
            return null;
        }
    }

    /// <summary>
    /// True when an inline option group turns on x (whose '#' comments would swallow the anchoring) or n; RE2 knows
    /// neither flag, so Kafka refuses such a pattern too.
    /// </summary>
    private static bool EnablesVerboseOrExplicitCapture(string pattern)
    {
        for (var i = 0; i < pattern.Length - 1; i++)
        {
            if (pattern[i] == '\\')
            {
                i++;
                continue;
            }

            if (pattern[i] != '(' || pattern[i + 1] != '?')
            {
                continue;
            }

            var end = i + 2;
            while (end < pattern.Length && (char.IsAsciiLetter(pattern[end]) || pattern[end] == '-'))
            {
                end++;
            }

            var flags = pattern.AsSpan(i + 2, end - i - 2);
            var enabled = flags.IndexOf('-') is var minus and >= 0 ? flags[..minus] : flags;
            if (enabled.ContainsAny('x', 'n'))
            {
                return true;
            }
        }

        return false;
    }
}
