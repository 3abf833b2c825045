using DogsVsCats.Vision.Benchmarks;

return BenchCli.Build().Parse(args).Invoke();
