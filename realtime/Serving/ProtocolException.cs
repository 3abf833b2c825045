namespace DogsVsCats.Vision.Realtime.Serving;

/// <summary>A request the server refuses, with the HTTP status and a message that says what to fix; answered as {"error": ...}.</summary>
internal sealed class ProtocolException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}
