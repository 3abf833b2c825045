using DogsVsCats.Vision.Trainer.Models;
using DogsVsCats.Vision.Trainer.Onnx;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>Which library runs the frozen part of a network (<c>--frozen-engine</c>).</summary>
internal enum FrozenEngine
{
    /// <summary>ONNX Runtime on the CPU, TorchSharp on a GPU.</summary>
    Auto,

    /// <summary>The frozen layers exported (the same graph as the model file) and run by ONNX Runtime on the CPU.</summary>
    OnnxRuntime,

    /// <summary>TorchSharp, like the layers that train.</summary>
    Torch,
}

/// <summary>
/// What of the backbone stays frozen: all of it (frozen, features), or everything below a block (finetune: its
/// last stage by default, the lowest <c>--unfreeze</c> block otherwise).
/// </summary>
/// <param name="Pooled">True: the whole backbone and the head's global average pool.</param>
/// <param name="BelowBlock">Otherwise the block (by name) whose input the frozen part returns; null: the last stage.</param>
internal sealed record FrozenScope(bool Pooled, string? BelowBlock = null)
{
    /// <summary>The whole backbone and the head's global average pool: pixels -> pooled features [N, D].</summary>
    public static FrozenScope PooledBackbone { get; } = new(Pooled: true);

    /// <summary>Everything before the last stage: pixels -> the last stage's input [N, C, h, w].</summary>
    public static FrozenScope Stem { get; } = new(Pooled: false);

    /// <summary>Everything before <paramref name="block"/>: pixels -> its input [N, C, h, w].</summary>
    public static FrozenScope Below(string block) => new(Pooled: false, block);

    /// <summary>The index into <see cref="Backbone.Blocks"/> of the first block that does not run frozen.</summary>
    public int FirstLiveBlock(Backbone backbone) => BelowBlock is null ? backbone.Blocks.Count - 1 : backbone.BlockIndex(BelowBlock);
}

/// <summary>
/// The frozen part of a network, run without gradients wherever it is fastest. It takes float BGR pixels
/// [N, 3, H, W] 0..255 on the model's device and returns a new tensor the caller owns. Evaluation semantics
/// (BatchNorm running statistics, no dropout) as the frozen layers have in training.
/// </summary>
internal abstract class FrozenPart : IDisposable
{
    /// <summary>The engine <paramref name="requested"/> resolves to on <paramref name="device"/>.</summary>
    public static FrozenEngine Resolve(FrozenEngine requested, Device device) => requested switch
    {
        // ONNX Runtime's CPU kernels run these convolutions well ahead of libtorch's (bench backbones --peer);
        // on a GPU the tensors are already there and TorchSharp's CUDA kernels serve.
        FrozenEngine.Auto => device.type == DeviceType.CPU ? FrozenEngine.OnnxRuntime : FrozenEngine.Torch,
        FrozenEngine.OnnxRuntime when device.type != DeviceType.CPU =>
            throw new ArgumentException("--frozen-engine onnxruntime runs on the CPU; with --device cuda use auto or torch."),
        _ => requested,
    };

    /// <summary>The frozen part of <paramref name="backbone"/> (whose weights it copies now: it must not train afterwards).</summary>
    public static FrozenPart Create(Backbone backbone, FrozenScope scope, FrozenEngine engine, Device device, int threads) =>
        Resolve(engine, device) == FrozenEngine.OnnxRuntime
            ? new OnnxRuntimePart(backbone, scope, threads)
            : new TorchPart(backbone, scope);

    public abstract FrozenEngine Engine { get; }

    /// <summary>[N, 3, H, W] pixels -> [N, D] pooled features or [N, C, h, w], the input of the first block that trains.</summary>
    public abstract Tensor Run(Tensor pixels);

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }

    private sealed class TorchPart(Backbone backbone, FrozenScope scope) : FrozenPart
    {
        public override FrozenEngine Engine => FrozenEngine.Torch;

        public override Tensor Run(Tensor pixels)
        {
            using var noGrad = no_grad();
            using var outer = NewDisposeScope();
            var result = scope.Pooled ? backbone.call(pixels).mean([2, 3]) : backbone.ForwardBelow(pixels, scope.FirstLiveBlock(backbone));
            return result.MoveToOuterDisposeScope();
        }
    }

    /// <summary>
    /// The frozen layers as an ONNX graph (written by the exporter's own code, so it is the model file's graph), run in
    /// ONNX Runtime on the tensors' own memory: the input is read in place and the output written into a new tensor.
    /// </summary>
    private sealed class OnnxRuntimePart : FrozenPart
    {
        private const string InputName = "pixels";
        private const string OutputName = "frozen";
        private readonly SessionOptions options;
        private readonly InferenceSession session;
        private readonly RunOptions runOptions = new();
        private readonly long[] outputShape;   // per image

        public OnnxRuntimePart(Backbone backbone, FrozenScope scope, int threads)
        {
            var info = backbone.Info;
            var graph = new OnnxGraphBuilder();
            graph.Input(InputName, TensorProto.Types.DataType.Float, "N", 3, info.InputHeight, info.InputWidth);
            var output = scope.Pooled
                ? graph.Flatten(graph.Node("GlobalAveragePool", [graph.Module(backbone, InputName)], "pool"), 1)
                : backbone.ExportBelow(graph, InputName, scope.FirstLiveBlock(backbone));
            outputShape = OutputShape(backbone, scope);
            graph.Output(output, OutputName, TensorProto.Types.DataType.Float, ["N", .. outputShape.Cast<object>()]);
            var model = graph.ToModel();
            options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads };
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            session = new InferenceSession(model.ToByteArray(), options);
        }

        public override FrozenEngine Engine => FrozenEngine.OnnxRuntime;

        public override Tensor Run(Tensor pixels)
        {
            using var input = pixels.to(float32).cpu().contiguous();
            var result = empty([input.shape[0], .. outputShape], float32);
            if (input.shape[0] == 0)
            {
                return result;
            }

            try
            {
                using var inputValue = View(input);
                using var outputValue = View(result);
                session.Run(runOptions, [InputName], [inputValue], [OutputName], [outputValue]);
            }
            catch
            {
                result.Dispose();
                throw;
            }

            return result;
        }

        /// <summary>
        /// An ONNX Runtime value over a contiguous float32 CPU tensor's own memory (no copy: copying a batch of pixels out
        /// and the result back in cost ~5 % of the forward pass). The tensor must outlive the value.
        /// </summary>
        private static unsafe OrtValue View(Tensor tensor)
        {
            var bytes = tensor.bytes;   // a view of the tensor's native memory, which the GC does not move
            fixed (byte* data = bytes)
            {
                return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, tensor.shape, (IntPtr)data, bytes.Length);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                session.Dispose();
                options.Dispose();
                runOptions.Dispose();
            }

            base.Dispose(disposing);
        }

        /// <summary>The frozen part's output per image ([D] or [C, h, w]), from one TorchSharp pass over a blank image.</summary>
        private static long[] OutputShape(Backbone backbone, FrozenScope scope)
        {
            using var part = new TorchPart(backbone, scope);
            using var blank = zeros(1, 3, backbone.Info.InputHeight, backbone.Info.InputWidth);
            using var output = part.Run(blank);
            return output.shape[1..];
        }
    }
}
