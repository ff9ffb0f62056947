using System.Runtime.CompilerServices;

namespace Tributary.Broker.Dispatch;

/// <summary>
/// Awaits <paramref name="task"/> and resumes by posting to <paramref name="context"/>, whichever thread completes the
/// task: that thread only posts, so an append that wakes a parked fetch does not run the fetch.
/// </summary>
internal readonly struct ResumeOn(Task task, SynchronizationContext context) : ICriticalNotifyCompletion
{
    public bool IsCompleted => task.IsCompleted;

    public ResumeOn GetAwaiter() => this;

    public void GetResult() => task.GetAwaiter().GetResult();

    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation)
    {
        var post = context;
        task.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(() => post.Post(static state => ((Action)state!)(), continuation));
    }
}
