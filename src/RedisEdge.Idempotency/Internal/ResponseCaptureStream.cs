namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Passes the response body through to the client as it is written and keeps a copy of its bytes, up to a limit;
/// past the limit it keeps passing bytes through and drops the copy (the response is then not stored).
/// </summary>
/// <remarks>
/// Once the client has gone (<paramref name="aborted"/>), failed writes are swallowed: the handler has run or is running
/// its side effect, and its response must still be stored for the retry rather than surface as a handler failure.
/// </remarks>
internal sealed class ResponseCaptureStream(Stream inner, long limit, CancellationToken aborted) : Stream
{
    private MemoryStream? _copy = new();

    /// <summary>Whether the body grew past the limit (nothing is kept then).</summary>
    public bool Overflowed => _copy is null;

    public ReadOnlyMemory<byte> Captured => _copy is { } copy ? copy.GetBuffer().AsMemory(0, (int)copy.Length) : ReadOnlyMemory<byte>.Empty;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Keep(buffer);
        try
        {
            inner.Write(buffer);
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Keep(buffer.Span);
        try
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
        }
    }

    public override void Flush()
    {
        try
        {
            inner.Flush();
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
        }
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Keep(ReadOnlySpan<byte> bytes)
    {
        if (_copy is null)
        {
            return;
        }

        if (_copy.Length + bytes.Length > limit)
        {
            _copy.Dispose();
            _copy = null;
            return;
        }

        _copy.Write(bytes);
    }

    protected override void Dispose(bool disposing)
    {
        // The inner stream belongs to the server; only the copy is ours.
        if (disposing)
        {
            _copy?.Dispose();
        }

        base.Dispose(disposing);
    }
}
