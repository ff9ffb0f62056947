namespace Tributary.ShareBench;

/// <summary>One run: the group type, its consumers, how many of them received records, the measured rate.</summary>
internal sealed record RunResult(string Kind, int Consumers, int ActiveConsumers, double RecordsPerSecond);
