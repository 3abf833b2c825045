using System.Globalization;
using DogsVsCats.Vision.Trainer.Results;

namespace DogsVsCats.Vision.Trainer.Training;

/// <summary>Per-epoch CSV, flushed after every row so a crashed or interrupted run still leaves its history.</summary>
internal sealed class EpochCsvLog : IDisposable
{
    public const string Header = "epoch,train_loss,train_accuracy,validation_loss,validation_accuracy,seconds,learning_rate";

    private readonly StreamWriter _writer;

    public EpochCsvLog(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        _writer = new StreamWriter(path, append: false) { NewLine = "\n" };
        _writer.WriteLine(Header);
        _writer.Flush();
    }

    public void Append(EpochRecord r)
    {
        var fields = new[] { r.TrainLoss, r.TrainAccuracy, r.ValidationLoss, r.ValidationAccuracy, r.Seconds, r.LearningRate }
            .Select(v => v.ToString("R", CultureInfo.InvariantCulture));
        _writer.WriteLine($"{r.Epoch.ToString(CultureInfo.InvariantCulture)},{string.Join(',', fields)}");
        _writer.Flush();
    }

    public void Dispose() => _writer.Dispose();
}
