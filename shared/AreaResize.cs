using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using OpenCvSharp;

namespace DogsVsCats.Vision.Shared;

/// <summary>
/// OpenCV's INTER_AREA shrink of an 8-bit BGR image by a fractional scale, with AVX2, giving the same bytes as
/// <c>Cv2.Resize</c>: each destination pixel is the mean of the source area it covers, partly covered source pixels
/// weighted by the part covered. The same float operations run in the same order as in OpenCV (per source row, the
/// weighted sum of its pixels for each destination column, left to right; then those rows, top to bottom, each times
/// its own weight; rounded half to even), so the result is equal byte for byte (checked against Cv2.Resize on every
/// shared photo, at several model sizes). OpenCV does the first step one value at a time, here 8 at a time: the resize
/// was most of a photo's preprocessing time and is now less than its decoding (docs/benchmarks.md: bench label prints both).
/// Where it does not apply, <see cref="TryResize"/> says so and the caller uses Cv2.Resize: no AVX2, a scale that
/// enlarges or is a whole number (OpenCV has other code for those), or more than <see cref="MaxTaps"/> source pixels
/// across per destination pixel.
/// </summary>
internal static unsafe class AreaResize
{
    /// <summary>Most source columns one destination column reads (a shrink of up to about 3 x).</summary>
    public const int MaxTaps = 4;

    private const int Lanes = 8;

    /// <summary>Plans by source and destination size; a null plan means "use OpenCV". Bounded: cleared when full.</summary>
    private static readonly ConcurrentDictionary<(int, int, int, int), Plan?> Plans = new();

    private const int MaxPlans = 256;

    /// <summary>Shrinks 8UC3 <paramref name="src"/> (any step: a view is fine) into <paramref name="dst"/>, an 8UC3 Mat of the target size; false (dst untouched) where it does not apply.</summary>
    public static bool TryResize(Mat src, Mat dst)
    {
        if (!Avx2.IsSupported)
        {
            return false;
        }

        var key = (src.Width, src.Height, dst.Width, dst.Height);
        if (!Plans.TryGetValue(key, out var plan))
        {
            if (Plans.Count >= MaxPlans)
            {
                Plans.Clear();
            }

            plan = Plans[key] = Plan.For(src.Width, src.Height, dst.Width, dst.Height);
        }

        if (plan is null)
        {
            return false;
        }

        plan.Run((byte*)src.DataPointer, (long)src.Step(), (byte*)dst.DataPointer, (long)dst.Step());
        return true;
    }

    /// <summary>One axis: for each destination index, its source indices and weights, in increasing source order.</summary>
    private sealed record Axis(int[] Start, int[] Source, float[] Weight)
    {
        public int Taps(int d) => Start[d + 1] - Start[d];

        /// <summary>INTER_AREA's table for shrinking <paramref name="sourceSize"/> to <paramref name="size"/> by <paramref name="scale"/> (source pixels per destination pixel).</summary>
        public static Axis For(int sourceSize, int size, double scale)
        {
            var start = new int[size + 1];
            var source = new List<int>(sourceSize * 2);
            var weight = new List<float>(sourceSize * 2);
            for (var d = 0; d < size; d++)
            {
                start[d] = source.Count;
                var from = d * scale;
                var to = from + scale;
                var cell = Math.Min(scale, sourceSize - from);
                var last = Math.Min((int)Math.Floor(to), sourceSize - 1);
                var first = Math.Min((int)Math.Ceiling(from), last);
                if (first - from > 1e-3)
                {
                    source.Add(first - 1);   // the pixel the area starts inside
                    weight.Add((float)((first - from) / cell));
                }

                for (var s = first; s < last; s++)
                {
                    source.Add(s);
                    weight.Add((float)(1.0 / cell));
                }

                if (to - last > 1e-3)
                {
                    source.Add(last);   // the pixel the area ends inside
                    weight.Add((float)(Math.Min(Math.Min(to - last, 1.0), cell) / cell));
                }
            }

            start[size] = source.Count;
            return new Axis(start, [.. source], [.. weight]);
        }
    }

    // The kernels are compiled optimised at their first call (AggressiveOptimization): .NET's first tier would run
    // their vector code unoptimised, slower than OpenCV, for the first photos of every run.
    private sealed class Plan
    {
        private readonly int sourceValues;
        private readonly int values;
        private readonly int taps;
        private readonly Axis rows;

        // Per tap t and destination value e (x * 3 + channel): the source value it reads and its weight; a column
        // with fewer taps reads its first source value with weight 0, which adds exactly nothing.
        private readonly int[] source;
        private readonly float[] weight;

        // Per group of 8 destination values and tap: the first of 16 consecutive source values that hold all 8 it
        // reads (-1: they lie further apart, gathered one by one), and each one's place among those 16.
        private readonly int[] window;
        private readonly int[] place;
        private readonly int[] high;

        private Plan(int sourceWidth, int width, int taps, Axis columns, Axis rows)
        {
            (sourceValues, values, this.taps, this.rows) = (sourceWidth * 3, width * 3, taps, rows);
            source = new int[taps * values];
            weight = new float[taps * values];
            for (var x = 0; x < width; x++)
            {
                for (var t = 0; t < taps; t++)
                {
                    var entry = columns.Start[x] + t;
                    var has = t < columns.Taps(x);
                    for (var c = 0; c < 3; c++)
                    {
                        source[(t * values) + (x * 3) + c] = (columns.Source[has ? entry : columns.Start[x]] * 3) + c;
                        weight[(t * values) + (x * 3) + c] = has ? columns.Weight[entry] : 0f;
                    }
                }
            }

            var groups = values / Lanes;
            window = new int[groups * taps];
            place = new int[groups * taps * Lanes];
            high = new int[groups * taps * Lanes];
            for (var g = 0; g < groups; g++)
            {
                for (var t = 0; t < taps; t++)
                {
                    var reads = source.AsSpan((t * values) + (g * Lanes), Lanes);
                    var (low, top) = (int.MaxValue, int.MinValue);
                    foreach (var s in reads)
                    {
                        (low, top) = (Math.Min(low, s), Math.Max(top, s));
                    }

                    var i = (g * taps) + t;
                    window[i] = top - low < 2 * Lanes ? low : -1;
                    for (var l = 0; l < Lanes; l++)
                    {
                        var offset = reads[l] - low;
                        place[(i * Lanes) + l] = offset % Lanes;
                        high[(i * Lanes) + l] = offset >= Lanes ? -1 : 0;
                    }
                }
            }
        }

        /// <summary>The plan for this shrink, or null where OpenCV runs other code or a column reads too many pixels.</summary>
        public static Plan? For(int sourceWidth, int sourceHeight, int width, int height)
        {
            // As cv::resize derives them: the inverse of the destination-to-source ratio.
            var scaleX = 1.0 / ((double)width / sourceWidth);
            var scaleY = 1.0 / ((double)height / sourceHeight);
            var whole = Math.Abs(scaleX - Math.Round(scaleX)) < double.Epsilon && Math.Abs(scaleY - Math.Round(scaleY)) < double.Epsilon;
            if (scaleX < 1 || scaleY < 1 || whole)
            {
                return null;
            }

            var columns = Axis.For(sourceWidth, width, scaleX);
            var taps = Enumerable.Range(0, width).Max(columns.Taps);
            return taps > MaxTaps ? null : new Plan(sourceWidth, width, taps, columns, Axis.For(sourceHeight, height, scaleY));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(byte* src, long srcStep, byte* dst, long dstStep)
        {
            // The row as floats, with room for a 16-value window that starts at its last value.
            var rowArray = ArrayPool<float>.Shared.Rent(sourceValues + (2 * Lanes));
            var sumsArray = ArrayPool<float>.Shared.Rent(2 * values);
            try
            {
                fixed (float* row = rowArray, sums = sumsArray)
                fixed (int* sourceAt = source, windowAt = window, placeAt = place, highAt = high)
                fixed (float* weightAt = weight)
                {
                    var across = sums + values;   // the current source row's sums per destination value
                    var cached = -1;
                    for (var y = 0; y + 1 < rows.Start.Length; y++)
                    {
                        for (var entry = rows.Start[y]; entry < rows.Start[y + 1]; entry++)
                        {
                            var sourceRow = rows.Source[entry];
                            if (sourceRow != cached)
                            {
                                // A source row shared by two destination rows gives the same sums for both.
                                Widen(src + (sourceRow * srcStep), row);
                                Across(row, sourceAt, weightAt, windowAt, placeAt, highAt, across);
                                cached = sourceRow;
                            }

                            Down(sums, across, rows.Weight[entry], first: entry == rows.Start[y]);
                        }

                        Store(sums, dst + (y * dstStep));
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(rowArray);
                ArrayPool<float>.Shared.Return(sumsArray);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Widen(byte* src, float* row)
        {
            var i = 0;
            for (; i + 16 <= sourceValues; i += 16)
            {
                var (low, high) = Vector128.Widen(Vector128.Load(src + i));
                var (a, b) = Vector128.Widen(low);
                var (c, d) = Vector128.Widen(high);
                Vector128.Store(Vector128.ConvertToSingle(a.AsInt32()), row + i);
                Vector128.Store(Vector128.ConvertToSingle(b.AsInt32()), row + i + 4);
                Vector128.Store(Vector128.ConvertToSingle(c.AsInt32()), row + i + 8);
                Vector128.Store(Vector128.ConvertToSingle(d.AsInt32()), row + i + 12);
            }

            for (; i < sourceValues; i++)
            {
                row[i] = src[i];
            }
        }

        /// <summary>Per destination value: 0, plus each tap's source value times its weight, tap by tap.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Across(float* row, int* sourceAt, float* weightAt, int* windowAt, int* placeAt, int* highAt, float* across)
        {
            var e = 0;
            for (var g = 0; e + Lanes <= values; e += Lanes, g++)
            {
                var sum = Vector256<float>.Zero;
                for (var t = 0; t < taps; t++)
                {
                    var i = (g * taps) + t;
                    Vector256<float> read;
                    if (windowAt[i] >= 0)
                    {
                        var at = row + windowAt[i];
                        var places = Vector256.Load(placeAt + (i * Lanes));
                        read = Avx.BlendVariable(
                            Avx2.PermuteVar8x32(Vector256.Load(at), places),
                            Avx2.PermuteVar8x32(Vector256.Load(at + Lanes), places),
                            Vector256.Load(highAt + (i * Lanes)).AsSingle());
                    }
                    else
                    {
                        read = Avx2.GatherVector256(row, Vector256.Load(sourceAt + (t * values) + e), sizeof(float));
                    }

                    sum += read * Vector256.Load(weightAt + (t * values) + e);
                }

                sum.Store(across + e);
            }

            for (; e < values; e++)
            {
                var sum = 0f;
                for (var t = 0; t < taps; t++)
                {
                    sum += row[sourceAt[(t * values) + e]] * weightAt[(t * values) + e];
                }

                across[e] = sum;
            }
        }

        /// <summary>The destination row's sums: its first source row times its weight, then each next one's added.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Down(float* sums, float* across, float weight, bool first)
        {
            var w = Vector256.Create(weight);
            var e = 0;
            for (; e + Lanes <= values; e += Lanes)
            {
                var part = w * Vector256.Load(across + e);
                (first ? part : Vector256.Load(sums + e) + part).Store(sums + e);
            }

            for (; e < values; e++)
            {
                sums[e] = first ? weight * across[e] : sums[e] + (weight * across[e]);
            }
        }

        /// <summary>Rounds half to even and saturates to a byte, as OpenCV's saturate_cast.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Store(float* sums, byte* dst)
        {
            var most = Vector256.Create(255);
            var e = 0;
            for (; e + (2 * Lanes) <= values; e += 2 * Lanes)
            {
                var low = Vector256.Min(Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(sums + e))), most).AsUInt32();
                var high = Vector256.Min(Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(sums + e + Lanes))), most).AsUInt32();
                var shorts = Vector256.Narrow(low, high);
                Vector256.Narrow(shorts, shorts).GetLower().Store(dst + e);
            }

            for (; e < values; e++)
            {
                dst[e] = (byte)Math.Clamp((int)MathF.Round(sums[e], MidpointRounding.ToEven), 0, 255);
            }
        }
    }
}
