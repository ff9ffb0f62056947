using Tributary.Cli;

return await TributaryCommand.RunAsync(args).ConfigureAwait(false);
