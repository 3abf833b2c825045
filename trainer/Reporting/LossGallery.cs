using System.Globalization;
using System.Text;
using DogsVsCats.Vision.Shared;
using OpenCvSharp;

namespace DogsVsCats.Vision.Trainer.Reporting;

/// <summary>One row of a loss list: a photo, its label, the model's label and how much it cost.</summary>
/// <param name="Probability">The model's probability of <paramref name="Predicted"/>.</param>
internal sealed record LossRow(string Path, string Truth, string Predicted, double Probability, double Loss);

/// <summary>The highest-loss photos of a split: a PNG gallery and a CSV, and how many photos were wrong.</summary>
/// <param name="Top">The photos in the gallery, highest loss first.</param>
internal sealed record LossList(string Split, string Image, string Csv, int Photos, int Wrong, int Rows, IReadOnlyList<LossRow> Top);

/// <summary>Orders scored photos by loss and writes them as a CSV and as a gallery with each photo's CAM overlay.</summary>
internal static class LossGallery
{
    public const string CsvHeader = "path,truth,predicted,probability,loss";

    /// <summary>Photos in a gallery (4 columns).</summary>
    public const int GalleryPhotos = 16;

    /// <summary>Rows of a CSV: every wrong photo, then the highest-loss right ones until this many.</summary>
    public const int CsvRows = 64;

    /// <summary>Pixels between tiles, and between a photo and its CAM overlay.</summary>
    public const int Gap = 8;

    private const int Columns = 4;
    private const int CaptionHeight = 66;
    private const int TitleHeight = 40;
    private static readonly Scalar Background = new(32, 32, 32);
    private static readonly Scalar White = Scalar.All(255);
    private static readonly Scalar Red = new(60, 60, 230);
    private static readonly Scalar Green = new(80, 200, 80);

    /// <summary>Highest loss first; equal losses by path, so a list is the same from run to run.</summary>
    public static List<ScoredPhoto> ByLoss(IEnumerable<ScoredPhoto> photos) =>
        [.. photos.OrderByDescending(p => p.Loss).ThenBy(p => p.Path, StringComparer.Ordinal)];

    /// <summary>Writes <c>{name}.csv</c> and <c>{name}.png</c> into <paramref name="directory"/>.</summary>
    public static LossList Write(string directory, string name, string split, string title, ScoredSet set, ModelScorer model)
    {
        var labels = model.Description.Labels;
        var ordered = ByLoss(set.Photos);
        var wrong = ordered.Count(p => !p.Correct);
        var listed = ByLoss(ordered.Where(p => !p.Correct).Concat(ordered.Where(p => p.Correct).Take(Math.Max(0, CsvRows - wrong))));
        LossRow Row(ScoredPhoto p) => new(p.Path, labels[p.Truth], labels[p.Predicted], p.Probabilities[p.Predicted], p.Loss);

        var csv = new StringBuilder().AppendLine(CsvHeader);
        foreach (var row in listed.Select(Row))
        {
            csv.AppendLine(string.Join(',', CsvText.Quote(row.Path), CsvText.Quote(row.Truth), CsvText.Quote(row.Predicted), Number(row.Probability), Number(row.Loss)));
        }

        var csvFile = name + ".csv";
        var pngFile = name + ".png";
        AtomicFile.WriteAllText(Path.Combine(directory, csvFile), csv.ToString());
        var shown = ordered.Take(GalleryPhotos).ToList();
        DrawGallery(Path.Combine(directory, pngFile), title, shown, model);
        return new LossList(split, pngFile, csvFile, ordered.Count, wrong, listed.Count, [.. shown.Select(Row)]);
    }

    /// <summary>
    /// Each tile: the region of the photo the model saw, the same with the predicted class's CAM over it, and a caption
    /// (rank, loss, truth and prediction in red when wrong, file name).
    /// </summary>
    private static void DrawGallery(string pngPath, string title, List<ScoredPhoto> photos, ModelScorer model)
    {
        var (w, h) = (model.Description.InputWidth, model.Description.InputHeight);
        var labels = model.Description.Labels;
        var rows = Math.Max(1, (photos.Count + Columns - 1) / Columns);
        var columns = Math.Clamp(photos.Count, 1, Columns);
        using var canvas = new Mat(TitleHeight + (rows * (h + CaptionHeight + Gap)), Gap + (columns * ((2 * w) + (2 * Gap))), MatType.CV_8UC3, Background);
        Cv2.PutText(canvas, title, new Point(Gap, 28), HersheyFonts.HersheySimplex, 0.7, White, 2, LineTypes.AntiAlias);
        using var overlay = new CamOverlay();
        for (var i = 0; i < photos.Count; i++)
        {
            var photo = photos[i];
            var (x, y) = TileOrigin(i, w, h);
            using (var plain = new Mat(canvas, new Rect(x, y, w, h)))
            using (var heat = new Mat(canvas, new Rect(x + w + Gap, y, w, h)))
            {
                if (ImageFile.TryRead(photo.Path, out var bgr, out _))
                {
                    using (bgr)
                    {
                        ImagePreprocessing.ResizeInto(bgr, plain, w, h);
                    }

                    plain.CopyTo(heat);
                    overlay.Draw(heat, photo.Cam, model.CamHeight, model.CamWidth);
                }
            }

            var colour = photo.Correct ? Green : Red;
            var predicted = photo.Predicted;
            Caption(canvas, $"#{i + 1}  loss {photo.Loss.ToString("F3", CultureInfo.InvariantCulture)}", x, y + h + 18, White);
            Caption(canvas, $"true {labels[photo.Truth]}, predicted {labels[predicted]} {photo.Probabilities[predicted].ToString("F3", CultureInfo.InvariantCulture)}", x, y + h + 38, colour);
            Caption(canvas, Path.GetFileName(photo.Path), x, y + h + 58, White);
        }

        Cv2.ImEncode(".png", canvas, out var png);
        AtomicFile.WriteAllBytes(pngPath, png);
    }

    /// <summary>
    /// Top left corner of tile <paramref name="index"/> for photos of <paramref name="width"/> x <paramref name="height"/>:
    /// the photo as the model saw it is there, its CAM overlay <paramref name="width"/> + a gap to the right.
    /// </summary>
    public static (int X, int Y) TileOrigin(int index, int width, int height) =>
        (Gap + (index % Columns * ((2 * width) + (2 * Gap))), TitleHeight + (index / Columns * (height + CaptionHeight + Gap)));

    private static void Caption(Mat canvas, string text, int x, int y, Scalar colour) =>
        Cv2.PutText(canvas, text, new Point(x, y), HersheyFonts.HersheySimplex, 0.5, colour, 1, LineTypes.AntiAlias);

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
