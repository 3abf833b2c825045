using System.CommandLine;
using DogsVsCats.Vision.Realtime;
using DogsVsCats.Vision.Realtime.Cli;
using DogsVsCats.Vision.Shared;

// serve drains on Ctrl+C / SIGTERM for up to --drain-seconds, through the host's own signal handling: System.CommandLine's
// handler would end the process after its own 2 s instead.
return await CommandLineRun.InvokeAsync(
    RealtimeCli.Build(RealtimeApp.RunAsync, RealtimeApp.ServeAsync),
    args,
    invocation: parsed => parsed.CommandResult.Command.Name == "serve" ? new InvocationConfiguration { ProcessTerminationTimeout = null } : null);
