using DogsVsCats.Vision.Realtime;
using DogsVsCats.Vision.Realtime.Cli;
using DogsVsCats.Vision.Shared;

return await CommandLineRun.InvokeAsync(RealtimeCli.Build(RealtimeApp.RunAsync), args);
