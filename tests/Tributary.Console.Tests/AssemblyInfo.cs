// One browser and one broker per test class; the classes run one at a time so a 2-core machine is not asked to run
// several Chromiums next to the broker under test.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
