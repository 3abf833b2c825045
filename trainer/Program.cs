using DogsVsCats.Vision.Trainer.Cli;

return TrainerCli.Build().Parse(args).Invoke();
