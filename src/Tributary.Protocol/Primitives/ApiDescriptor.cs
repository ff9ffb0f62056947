namespace Tributary.Protocol;

/// <summary>
/// What the schemas say about one API: its version range, the highest version that is stable upstream (below
/// <see cref="HighestVersion"/> when the schema marks its latest version unstable), and the first flexible
/// version of each side.
/// </summary>
public sealed record ApiDescriptor(ApiKey Key, string Name, short LowestVersion, short HighestVersion, short HighestStableVersion, short RequestFirstFlexibleVersion, short ResponseFirstFlexibleVersion)
{
    public bool IsRequestFlexible(short version) => version >= RequestFirstFlexibleVersion;

    public bool IsResponseFlexible(short version) => version >= ResponseFirstFlexibleVersion;

    /// <summary>Request header version: 2 for flexible requests, else 1.</summary>
    public short RequestHeaderVersion(short version) => IsRequestFlexible(version) ? (short)2 : (short)1;

    /// <summary>
    /// Response header version: 1 for flexible responses, else 0. ApiVersions responses always use v0 so a
    /// client that does not yet know the broker's versions can parse them (KIP-511).
    /// </summary>
    public short ResponseHeaderVersion(short version) =>
        Key != ApiKey.ApiVersions && IsResponseFlexible(version) ? (short)1 : (short)0;
}
