using System.CommandLine;
using DogsVsCats.Vision.Realtime;
using DogsVsCats.Vision.Realtime.Cli;

var parsed = RealtimeCli.Build(RealtimeApp.RunAsync, RealtimeApp.ServeAsync).Parse(args);
// serve drains on Ctrl+C / SIGTERM for up to --drain-seconds, through the host's own signal handling: System.CommandLine's
// handler would end the process after its own 2 s instead.
var serving = parsed.CommandResult.Command.Name == "serve";
return await parsed.InvokeAsync(serving ? new InvocationConfiguration { ProcessTerminationTimeout = null } : null);
