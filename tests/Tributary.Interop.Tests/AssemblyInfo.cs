// The interop tests start brokers and real clients that each want a core; on a 2-core CI machine running them
// one at a time keeps timings honest and the per-process timeouts meaningful.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
