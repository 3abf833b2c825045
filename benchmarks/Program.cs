using DogsVsCats.Vision.Benchmarks;
using DogsVsCats.Vision.Shared;

return await CommandLineRun.InvokeAsync(BenchCli.Build(), args);
