using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace RedisEdge.Idempotency.Internal;

/// <summary>
/// Passes the response body through to the client as it is written and keeps a copy of its bytes in one pooled
/// buffer, up to a limit; past the limit, or when the response's status is not one to store, it keeps passing bytes
/// through and drops the copy (the response is then not stored).
/// </summary>
/// <remarks>
/// <para>The copy lives in a buffer rented from <see cref="ArrayPool{T}.Shared"/> and grown by renting a larger one, so
/// a large response costs pooled memory rather than a fresh large-object-heap array per request. The status is
/// known once the response has started (on the first write): a response that will not be stored is never buffered.</para>
/// <para>The buffer goes back to the pool on dispose only if nothing may still read it: once <see cref="Captured"/> has
/// been handed to Redis, <see cref="MarkSent"/> must confirm the call completed; a call that failed or timed out may
/// still be queued in the client with a reference to the bytes, so the buffer is then left to the garbage collector.</para>
/// <para>Once the client has gone (<paramref name="aborted"/>), failed writes are swallowed: the handler has run or is
/// running its side effect, and its response must still be stored for the retry rather than surface as a handler failure.</para>
/// </remarks>
internal sealed class ResponseCaptureStream(Stream inner, HttpResponse response, StatusCodeSet stored, long limit, CancellationToken aborted) : Stream
{
    private const int InitialSize = 4 * 1024;

    private byte[]? _buffer;
    private int _length;
    private bool _started;
    private bool _dropped;
    private bool _lent;

    /// <summary>Whether the copy was dropped: the body grew past the limit, or its status is not stored.</summary>
    public bool Overflowed => _dropped;

    /// <summary>The captured bytes. Reading them lends the pooled buffer out until <see cref="MarkSent"/>.</summary>
    public ReadOnlyMemory<byte> Captured
    {
        get
        {
            if (_dropped || _buffer is null)
            {
                return ReadOnlyMemory<byte>.Empty;
            }

            _lent = true;
            return _buffer.AsMemory(0, _length);
        }
    }

    /// <summary>Redis answered the call that carried <see cref="Captured"/>: the buffer may go back to the pool.</summary>
    public void MarkSent() => _lent = false;

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
        // Through to the client first: that starts the response, and only then is its status final.
        try
        {
            inner.Write(buffer);
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
        }

        Keep(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (aborted.IsCancellationRequested)
        {
        }

        // The caller owns the memory until this write completes, so it is still valid to copy.
        Keep(buffer.Span);
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
        if (_dropped || bytes.IsEmpty)
        {
            return;
        }

        if (!_started)
        {
            _started = true;
            if (!stored.Contains(response.StatusCode))
            {
                Drop();
                return;
            }
        }

        var needed = (long)_length + bytes.Length;
        if (needed > limit)
        {
            Drop();
            return;
        }

        if (_buffer is null || needed > _buffer.Length)
        {
            var size = Math.Max(needed, Math.Min(limit, Math.Max(InitialSize, (_buffer?.Length ?? 0) * 2L)));
            var grown = ArrayPool<byte>.Shared.Rent((int)size);
            if (_buffer is not null)
            {
                _buffer.AsSpan(0, _length).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = grown;
        }

        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void Drop()
    {
        _dropped = true;
        ReturnBuffer();
    }

    private void ReturnBuffer()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            _length = 0;
            if (!_lent)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        // The inner stream belongs to the server; only the copy is ours.
        if (disposing)
        {
            ReturnBuffer();
        }

        base.Dispose(disposing);
    }
}
