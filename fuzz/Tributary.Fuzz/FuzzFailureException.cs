namespace Tributary.Fuzz;

/// <summary>A bug a fuzz target found in the code under test (not a refusal of bad input): the fuzzer records the input.</summary>
public sealed class FuzzFailureException(string message, Exception? inner = null) : Exception(message, inner);
