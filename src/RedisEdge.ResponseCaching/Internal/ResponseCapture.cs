using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace RedisEdge.ResponseCaching.Internal;

/// <summary>
/// Replaces the response body while the origin runs: the body is buffered (up to the policy's maximum) so the
/// middleware can still store it, add <c>ETag</c>, answer <c>304</c>, or throw it away and serve a stale entry when
/// the origin failed. A body that outgrows the maximum switches to streaming to the client and is not stored.
/// </summary>
internal sealed class ResponseCapture : Stream, IHttpResponseBodyFeature
{
    private readonly IHttpResponseBodyFeature _inner;
    private readonly long _limit;
    private readonly Action? _onOverflow;
    private MemoryStream? _buffer = new();
    private PipeWriter? _writer;

    public ResponseCapture(IHttpResponseBodyFeature inner, long limit, Action? onOverflow)
    {
        _inner = inner;
        _limit = limit;
        _onOverflow = onOverflow;
    }

    /// <summary>Whether the body outgrew the limit and is being streamed (the response has started).</summary>
    public bool Overflowed => _buffer is null;

    /// <summary>The buffered body; empty once <see cref="Overflowed"/>.</summary>
    public ReadOnlyMemory<byte> Body => _buffer is { } buffer ? buffer.GetBuffer().AsMemory(0, (int)buffer.Length) : default;

    Stream IHttpResponseBodyFeature.Stream => this;

    public PipeWriter Writer => _writer ??= PipeWriter.Create(this, new StreamPipeWriterOptions(leaveOpen: true));

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Pushes whatever the origin left in the pipe writer into the buffer.</summary>
    public async Task FlushWriterAsync()
    {
        if (_writer is not null)
        {
            try
            {
                await _writer.FlushAsync().ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                // The origin completed the writer, which flushed it.
            }
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_buffer is { } memory && memory.Length + buffer.Length <= _limit)
        {
            memory.Write(buffer);
            return;
        }

        if (_buffer is { } pending)
        {
            _buffer = null;
            _onOverflow?.Invoke();
            _inner.Stream.Write(pending.GetBuffer(), 0, (int)pending.Length);
        }

        _inner.Stream.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_buffer is { } memory && memory.Length + buffer.Length <= _limit)
        {
            memory.Write(buffer.Span);
            return;
        }

        if (_buffer is { } pending)
        {
            _buffer = null;
            _onOverflow?.Invoke();
            await _inner.Stream.WriteAsync(pending.GetBuffer().AsMemory(0, (int)pending.Length), cancellationToken).ConfigureAwait(false);
        }

        await _inner.Stream.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    public override void Flush()
    {
        if (Overflowed)
        {
            _inner.Stream.Flush();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        Overflowed ? _inner.Stream.FlushAsync(cancellationToken) : Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken = default) =>
        Overflowed ? _inner.StartAsync(cancellationToken) : Task.CompletedTask;

    public async Task CompleteAsync()
    {
        await FlushWriterAsync().ConfigureAwait(false);
        if (Overflowed)
        {
            await _inner.CompleteAsync().ConfigureAwait(false);
        }
    }

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(this, path, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
