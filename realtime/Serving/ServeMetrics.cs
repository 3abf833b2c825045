using Prometheus;

namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>
/// The server's Prometheus metrics, on a registry of its own (not prometheus-net's static default, so two servers in
/// one process, as in the tests, never mix their counts). Inference and execution counts are kept apart as Triton
/// keeps them: their ratio is the average batch size.
/// </summary>
internal sealed class ServeMetrics
{
    private static readonly double[] LatencyBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

    public ServeMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("dogsvscats_http_requests_total", "HTTP requests answered, by endpoint and status code.", "endpoint", "status");
        RequestDuration = factory.CreateHistogram("dogsvscats_http_request_duration_seconds", "Time from a request's arrival to its answer, by endpoint.", new HistogramConfiguration { LabelNames = ["endpoint"], Buckets = LatencyBuckets });
        InferenceDuration = factory.CreateHistogram("dogsvscats_inference_duration_seconds", "ONNX Runtime's time per batch run.", new HistogramConfiguration { Buckets = LatencyBuckets });
        QueueWait = factory.CreateHistogram("dogsvscats_queue_wait_seconds", "Time a request waited in the batching queue before its batch ran.", new HistogramConfiguration { Buckets = LatencyBuckets });
        BatchSize = factory.CreateHistogram("dogsvscats_batch_size", "Images per ONNX Runtime run.", new HistogramConfiguration { Buckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] });
        QueueDepth = factory.CreateGauge("dogsvscats_queue_depth", "Requests waiting in the batching queue.");
        InferenceCount = factory.CreateCounter("dogsvscats_inference_count_total", "Images inferred (Triton's nv_inference_count).");
        ExecutionCount = factory.CreateCounter("dogsvscats_execution_count_total", "ONNX Runtime runs, one per batch (Triton's nv_inference_exec_count).");
        ModelReady = factory.CreateGauge("dogsvscats_model_ready", "1 once the model is loaded and warmed up, 0 while loading or draining.");
    }

    public CollectorRegistry Registry { get; }

    public Counter Requests { get; }

    public Histogram RequestDuration { get; }

    public Histogram InferenceDuration { get; }

    public Histogram QueueWait { get; }

    public Histogram BatchSize { get; }

    public Gauge QueueDepth { get; }

    public Counter InferenceCount { get; }

    public Counter ExecutionCount { get; }

    public Gauge ModelReady { get; }
}
