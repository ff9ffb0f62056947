using System.Globalization;

namespace Tributary.Cli.Commands;

/// <summary>Where <c>consume --from</c> starts reading a partition (with a group: where it has no committed offset).</summary>
internal readonly record struct StartPosition(StartPosition.Kinds Kind, long Value)
{
    public enum Kinds
    {
        Beginning,
        End,
        Offset,
        FromEnd,
        Timestamp,
    }

    public const string Syntax = "beginning | end | OFFSET | -N (N before the end) | s@MS (Unix ms) | ISO 8601 time";

    /// <summary>
    /// Parses <see cref="Syntax"/>: a plain number is an offset (kcat's <c>-o</c>); a time is ISO 8601
    /// (<c>2026-12-07T04:00:00Z</c>, UTC when no zone is given) or Unix milliseconds after <c>s@</c> as in kcat (a bare
    /// <c>@</c> would name a response file to System.CommandLine).
    /// </summary>
    public static bool TryParse(string text, out StartPosition position)
    {
        position = default;
        switch (text)
        {
            case "beginning" or "earliest":
                position = new StartPosition(Kinds.Beginning, 0);
                return true;
            case "end" or "latest":
                position = new StartPosition(Kinds.End, 0);
                return true;
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            position = number >= 0 ? new StartPosition(Kinds.Offset, number) : new StartPosition(Kinds.FromEnd, -number);
            return number != long.MinValue;
        }

        if (text.StartsWith("s@", StringComparison.Ordinal) && long.TryParse(text.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
        {
            position = new StartPosition(Kinds.Timestamp, ms);
            return true;
        }

        if (text.Length >= 10 && char.IsAsciiDigit(text[0])
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            position = new StartPosition(Kinds.Timestamp, time.ToUnixTimeMilliseconds());
            return true;
        }

        return false;
    }
}
