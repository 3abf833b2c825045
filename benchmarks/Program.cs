using DogsVsCats.Vision.Benchmarks;

return await BenchCli.Build().Parse(args).InvokeAsync();
