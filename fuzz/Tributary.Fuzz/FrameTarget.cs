using System.Buffers;
using Tributary.Broker;
using Tributary.Broker.Dispatch;
using Tributary.Broker.Handlers;
using Tributary.Protocol;
using Tributary.Protocol.Messages;
using Tributary.TestSupport;

namespace Tributary.Fuzz;

/// <summary>
/// Request frames as a connection delivers them: the input is a byte stream of size-prefixed frames, split by the
/// real <see cref="FrameReader"/> and dispatched one after another to the real <see cref="RequestDispatcher"/> and
/// handlers of a fresh in-memory broker, each response encoded as the connection would send it. Closing the
/// connection (a malformed, unknown or unsupported request) is the expected refusal; an exception, an Error logged
/// (a handler that failed and was answered UNKNOWN_SERVER_ERROR) or a response its version cannot carry is a bug.
/// </summary>
public static class FrameTarget
{
    /// <summary>The frame limit of the fuzzed connection: well under the 100 MiB default, inputs are small.</summary>
    private const int FrameBytesMax = 1 << 20;

    /// <summary>
    /// A request that waits (a parked fetch, a join) is given simulated time in these steps, up to
    /// <see cref="TimeStepsMax"/> of them; one still waiting after that is left unanswered, as a client would give up.
    /// </summary>
    private static readonly TimeSpan TimeStep = TimeSpan.FromSeconds(31);

    private const int TimeStepsMax = 10;

    /// <summary>Real time a step's continuations get to run on the thread pool once the clock has moved.</summary>
    private static readonly TimeSpan SettleWait = TimeSpan.FromMilliseconds(20);

    public static void Run(byte[] input)
    {
        var log = new FailureLog();
        var time = new ManualTimeProvider();
        using var broker = new BrokerCore(FuzzBrokerConfig.InMemory(), time, log);
        var dispatcher = HandlerCatalog.CreateDispatcher(broker, log);
        var connection = new ConnectionInfo("fuzz-1", null);
        var reader = new FrameReader(FrameBytesMax);
        var buffer = new ReadOnlySequence<byte>(input);
        while (true)
        {
            var read = reader.TryRead(buffer);
            if (read.Status != FrameStatus.Frame)
            {
                break;
            }

            buffer = buffer.Slice(read.Consumed);
            if (!Dispatch(dispatcher, read.Frame.ToArray(), connection, time))
            {
                break;
            }
        }

        log.ThrowIfFailed();
    }

    /// <summary>Dispatches one frame and writes its response; false when the connection closes.</summary>
    internal static bool Dispatch(RequestDispatcher dispatcher, byte[] frame, ConnectionInfo connection, ManualTimeProvider time)
    {
        var dispatched = dispatcher.DispatchAsync(frame, connection, CancellationToken.None).AsTask();
        if (!Settle(dispatched, time))
        {
            return true;
        }

        var outcome = dispatched.Result;
        if (outcome.Action == DispatchAction.Close)
        {
            return false;
        }

        if (outcome.Durable is { } durable && !Settle(durable, time))
        {
            return true;
        }

        try
        {
            if (outcome.Action == DispatchAction.Respond)
            {
                var writer = new KafkaWriter(new ArrayBufferWriter<byte>());
                new ResponseHeader { CorrelationId = outcome.CorrelationId }.Write(ref writer, outcome.ResponseHeaderVersion);
                outcome.Response!.Write(ref writer, outcome.ApiVersion);
            }
        }
        catch (ProtocolException e)
        {
            throw new FuzzFailureException($"the response to API {BitConverter.ToString(frame, 0, 4)} cannot be written at its version: {e.Reason}", e);
        }
        finally
        {
            outcome.Buffers?.Release();
        }

        return true;
    }

    /// <summary>Waits for <paramref name="task"/>, moving the clock while it waits; false if it is still waiting at the end.</summary>
    private static bool Settle(Task task, ManualTimeProvider time)
    {
        for (var step = 0; !task.IsCompleted && step < TimeStepsMax; step++)
        {
            if (task.Wait(SettleWait))
            {
                break;
            }

            time.Advance(TimeStep);
        }

        if (!task.IsCompleted && !task.Wait(SettleWait))
        {
            return false;
        }

        // An exception out of the dispatcher (it turns a handler's into an error answer) is a bug: rethrown as is.
        task.GetAwaiter().GetResult();
        return true;
    }
}
