using DogsVsCats.Vision.Shared;
using DogsVsCats.Vision.Trainer.Cli;

return await CommandLineRun.InvokeAsync(TrainerCli.Build(), args);
