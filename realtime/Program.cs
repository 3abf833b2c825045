using DogsVsCats.Vision.Realtime;
using DogsVsCats.Vision.Realtime.Cli;

return await RealtimeCli.Build(RealtimeApp.RunAsync).Parse(args).InvokeAsync();
