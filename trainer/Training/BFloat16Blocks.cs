using DogsVsCats.Vision.Trainer.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>
/// Training steps through a backbone's upper blocks in bfloat16, as mixed precision does it (TorchSharp has no
/// autocast): a bfloat16 copy of the backbone runs the blocks' forward and backward, while the float32 backbone keeps
/// the weights the optimizer updates and that evaluation, checkpoints and the export use. Before each forward the copy
/// takes the current float32 weights; after each backward <see cref="MoveGradients"/> hands its gradients, as float32,
/// to the float32 parameters, so every update is made, and accumulated, in float32.
/// </summary>
internal sealed class BFloat16Blocks : IDisposable
{
    private readonly Backbone copy;
    private readonly int first;
    private readonly (Parameter Master, Parameter Copy)[] trained;
    private readonly (nn.Module Master, nn.Module Copy)[] modules;

    /// <param name="master">The float32 backbone, its trainable parameters already marked (requires_grad).</param>
    /// <param name="firstBlock">The index into <see cref="Backbone.Blocks"/> of the first block to run.</param>
    public BFloat16Blocks(Backbone master, int firstBlock)
    {
        first = firstBlock;
        var device = master.parameters().First().device;
        copy = Backbones.Architecture(master.Info.Name, master.InputSize);
        try
        {
            copy.load_state_dict(master.state_dict());
            copy.to(device).to(ScalarType.BFloat16);
            var copies = copy.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, parameter) in master.named_parameters())
            {
                copies[name].requires_grad = parameter.requires_grad;
            }

            trained = [.. master.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.parameter, copies[p.name]))];
            modules = [.. master.modules().Zip(copy.modules())];
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Block <c>firstBlock</c>'s input (float32) -> the last feature maps (float32), through the bfloat16 copy holding
    /// the float32 weights as they are now and in the same train / eval modes, layer by layer.
    /// </summary>
    public Tensor Forward(Tensor below)
    {
        using (no_grad())
        {
            foreach (var (m, c) in trained)
            {
                c.copy_(m);
            }
        }

        // Pre-order: a parent's train(mode) reaches its children, so each child is set after its parent.
        foreach (var (m, c) in modules)
        {
            c.train(m.training);
        }

        using var scope = NewDisposeScope();
        using var input = below.to(ScalarType.BFloat16);
        return copy.ForwardFrom(input, first).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Between backward and the optimizer step: the copy's gradients become the float32 parameters' (replacing theirs), the copy's are zeroed.</summary>
    public void MoveGradients()
    {
        using var scope = NewDisposeScope();
        foreach (var (m, c) in trained)
        {
            if (c.grad is { } gradient)
            {
                m.grad = gradient.to(ScalarType.Float32);
                gradient.zero_();
            }
        }
    }

    public void Dispose() => copy.Dispose();
}
