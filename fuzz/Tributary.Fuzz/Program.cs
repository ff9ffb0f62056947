using SharpFuzz;
using Tributary.Fuzz;

// Usage (fuzz/README.md):
//   Tributary.Fuzz <target>                 one input on stdin; under afl-fuzz, SharpFuzz's fork server runs inputs in a loop
//   Tributary.Fuzz <target> <file|dir>...   replays saved inputs (seeds, findings); exit code 1 if any fails
//   Tributary.Fuzz seed <golden> <corpus>   writes the seed corpus of every target
var targets = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
{
    ["frame"] = FrameTarget.Run,
    ["batch"] = RecordBatchTarget.Run,
    ["internal"] = InternalTopicsTarget.Run,
    ["metadata"] = MetadataTarget.Run,
};

if (args is ["seed", var golden, var corpus])
{
    Seeds.Write(golden, corpus);
    return 0;
}

if (args.Length == 0 || !targets.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: Tributary.Fuzz <{string.Join('|', targets.Keys)}> [input files or directories] | seed <golden dir> <corpus dir>");
    return 2;
}

if (args.Length == 1)
{
    // SharpFuzz's fork server may read its first input before afl-fuzz has written it, so afl-fuzz's dry run can
    // see an empty input; a target that touched no instrumented code for it would stop afl-fuzz ("No
    // instrumentation detected"). Every target therefore reaches instrumented code on an empty input too.
    Fuzzer.Run(stream =>
    {
        using var input = new MemoryStream();
        stream.CopyTo(input);
        target(input.ToArray());
    });
    return 0;
}

var failed = 0;
var inputs = args[1..].SelectMany(path => Directory.Exists(path) ? Directory.GetFiles(path).Order(StringComparer.Ordinal).ToArray() : [path]).ToList();
foreach (var path in inputs)
{
    try
    {
        target(File.ReadAllBytes(path));
    }
    catch (Exception e)
    {
        failed++;
        Console.Error.WriteLine($"{path}: {e}");
    }
}

Console.WriteLine($"{args[0]}: {inputs.Count - failed} of {inputs.Count} inputs passed");
return failed == 0 ? 0 : 1;
