using System.Diagnostics;
using System.Text;
using System.Threading.Channels;

namespace Tributary.Interop.Tests.Support;

/// <summary>
/// An external process started by a test (kcat, node, the standalone broker). Its standard output goes to a file
/// or is read line by line; standard error is kept (its tail) for failure messages; both can also be copied to a
/// tee file as they come. Every wait is bounded, and the process is killed by its own id on timeout or dispose —
/// never by name.
/// </summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private const int KeptOutputCharsMax = 8 * 1024 * 1024;
    private const int KeptErrorCharsMax = 64 * 1024;

    private readonly Process _process;
    private readonly Stopwatch _elapsed = Stopwatch.StartNew();
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _outputPump;
    private readonly Task _errorPump;
    private readonly Task _inputPump;
    private readonly StreamWriter? _tee;

    private ChildProcess(Process process, string? standardOutputFile, string? standardInputFile, string? teeFile)
    {
        _process = process;
        _tee = teeFile is null ? null : new StreamWriter(new FileStream(teeFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        _outputPump = standardOutputFile is null ? PumpLinesAsync() : PumpToFileAsync(standardOutputFile);
        _errorPump = PumpErrorAsync();
        _inputPump = PumpInputAsync(standardInputFile);
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string CommandLine { get; private init; } = "";

    /// <summary>Everything written to standard output so far (when it is not going to a file).</summary>
    public string StandardOutput
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public string StandardError
    {
        get
        {
            lock (_error)
            {
                return _error.ToString();
            }
        }
    }

    public static ChildProcess Start(
        string fileName,
        IEnumerable<string> arguments,
        string? standardOutputFile = null,
        string? standardInputFile = null,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null,
        string? teeFile = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? RepositoryPaths.Root,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        return new ChildProcess(process, standardOutputFile, standardInputFile, teeFile)
        {
            CommandLine = fileName + " " + string.Join(' ', info.ArgumentList),
        };
    }

    /// <summary>Waits for the next output line that matches; throws (with the output so far) if the process ends or time runs out first.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            while (await _lines.Reader.WaitToReadAsync(cancellation.Token).ConfigureAwait(false))
            {
                while (_lines.Reader.TryRead(out var line))
                {
                    if (match(line))
                    {
                        return line;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"no matching line from `{CommandLine}` within {timeout.TotalSeconds} s\n{Describe()}");
        }

        throw new InvalidOperationException($"`{CommandLine}` ended without a matching line\n{Describe()}");
    }

    /// <summary>Waits for the process to end; on timeout kills it (by its id) and throws.</summary>
    public async Task<ProcessResult> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancellation.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            await KillAsync().ConfigureAwait(false);
            throw new TimeoutException($"`{CommandLine}` still running after {timeout.TotalSeconds} s; killed pid {Id}\n{Describe()}");
        }

        await Task.WhenAll(_outputPump, _errorPump).ConfigureAwait(false);
        return new ProcessResult(_process.ExitCode, StandardOutput, StandardError, _elapsed.Elapsed);
    }

    /// <summary>SIGKILL to this process only (its own id), then waits for it to be gone.</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        try
        {
            _process.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }

        using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cancellation.Token).ConfigureAwait(false);
    }

    /// <summary>SIGTERM to this process only (its own id), then waits for it to end; on timeout kills it and throws.</summary>
    public async Task<ProcessResult> TerminateAsync(TimeSpan timeout)
    {
        if (!_process.HasExited && Kill(_process.Id, SigTerm) != 0 && !_process.HasExited)
        {
            throw new InvalidOperationException($"kill(SIGTERM) of pid {Id} failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
        }

        return await WaitForExitAsync(timeout).ConfigureAwait(false);
    }

    private const int SigTerm = 15;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    public string Describe() => $"pid {Id}, running {_elapsed.Elapsed.TotalSeconds:F1} s\nstdout (tail): {Tail(StandardOutput)}\nstderr (tail): {Tail(StandardError)}";

    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_outputPump, _errorPump, _inputPump).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or TimeoutException or ObjectDisposedException)
        {
            // The pipes of a killed process may break mid-copy; nothing left to read.
        }

        _process.Dispose();
        lock (_lines)
        {
            _tee?.Dispose();
        }
    }

    // Standard output and error lines also go, as they come, to the tee file (kept after the process and the test).
    private void Tee(string line)
    {
        lock (_lines)
        {
            try
            {
                _tee?.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : "…" + text[^4000..];

    private async Task PumpLinesAsync()
    {
        try
        {
            while (await _process.StandardOutput.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                lock (_output)
                {
                    if (_output.Length < KeptOutputCharsMax)
                    {
                        _output.Append(line).Append('\n');
                    }
                }

                Tee(line);
                _lines.Writer.TryWrite(line);
            }
        }
        finally
        {
            _lines.Writer.TryComplete();
        }
    }

    private async Task PumpToFileAsync(string path)
    {
        try
        {
            await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16, useAsync: true);
            await _process.StandardOutput.BaseStream.CopyToAsync(file).ConfigureAwait(false);
        }
        finally
        {
            _lines.Writer.TryComplete();
        }
    }

    private async Task PumpErrorAsync()
    {
        while (await _process.StandardError.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            Tee("stderr: " + line);
            lock (_error)
            {
                _error.Append(line).Append('\n');
                if (_error.Length > KeptErrorCharsMax)
                {
                    _error.Remove(0, _error.Length - (KeptErrorCharsMax / 2));
                }
            }
        }
    }

    private async Task PumpInputAsync(string? path)
    {
        try
        {
            if (path is not null)
            {
                await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
                await file.CopyToAsync(_process.StandardInput.BaseStream).ConfigureAwait(false);
            }
        }
        finally
        {
            _process.StandardInput.Close();
        }
    }
}
