namespace Tributary.Server.Admin.Console;

/// <summary>The console's limits (named with their unit) and test seams.</summary>
public sealed class ConsoleOptions
{
    /// <summary>Stored bytes a search scans unless it asks for another limit.</summary>
    public long SearchBytesMaxDefault { get; init; } = 256L << 20;

    /// <summary>The most stored bytes a search may ask to scan.</summary>
    public long SearchBytesMaxLimit { get; init; } = 16L << 30;

    /// <summary>Time a search runs unless it asks for another limit.</summary>
    public long SearchTimeMsDefault { get; init; } = 30_000;

    /// <summary>The longest a search may ask to run.</summary>
    public long SearchTimeMsLimit { get; init; } = 600_000;

    /// <summary>Matches a search collects unless it asks for another limit / the most it may ask for.</summary>
    public int SearchResultsDefault { get; init; } = 100;

    public int SearchResultsLimit { get; init; } = 1_000;

    /// <summary>Searches running at once; one more is refused (429) until one ends.</summary>
    public int SearchesRunningMax { get; init; } = 4;

    /// <summary>Searches whose results are kept for their pages; the oldest finished one goes first.</summary>
    public int SearchesKeptMax { get; init; } = 32;

    /// <summary>Records one page of the message browser shows at most.</summary>
    public int BrowseRecordsMax { get; init; } = 500;

    /// <summary>Bytes of one request's JSON body (a produced message's key, value and headers included).</summary>
    public int RequestBytesMax { get; init; } = 1 << 20;

    /// <summary>
    /// Test seam: awaited by a search before each read from the log, with the search's token, so a test can hold a
    /// search mid-scan and see that cancelling it stops the reads.
    /// </summary>
    public Func<CancellationToken, ValueTask>? BeforeSearchRead { get; init; }
}
