using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace RedisEdge.Sessions.Internal;

/// <summary>
/// Commits the session before the response can start, whichever way the endpoint starts it: <c>StartAsync</c>, a
/// first write or flush of <see cref="Stream"/> or <see cref="Writer"/>, a file. A failed commit throws into that call
/// while nothing has reached the server yet (bytes written to <see cref="Writer"/> before its first flush are held
/// here), so the middleware answers with a 503 problem and the endpoint's body never leaves: no client reads a
/// success body under a failure status. Later writes rethrow the same failure.
/// </summary>
internal sealed class RedisSessionResponseBodyFeature(IHttpResponseBodyFeature inner, RedisSession session, HttpContext context) : IHttpResponseBodyFeature
{
    private GateStream? _stream;
    private GatePipeWriter? _writer;
    private Exception? _failure;

    public IHttpResponseBodyFeature Inner => inner;

    public Stream Stream => _stream ??= new GateStream(inner.Stream, this);

    public PipeWriter Writer => _writer ??= new GatePipeWriter(inner.Writer, this);

    /// <summary>Whether the commit before the start has run (or was not needed): writes go straight through.</summary>
    internal bool IsOpen { get; private set; }

    public void DisableBuffering() => inner.DisableBuffering();

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await OpenAsync().ConfigureAwait(false);
        await inner.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        await OpenAsync().ConfigureAwait(false);
        await inner.SendFileAsync(path, offset, count, cancellationToken).ConfigureAwait(false);
    }

    public async Task CompleteAsync()
    {
        await OpenAsync().ConfigureAwait(false);
        await inner.CompleteAsync().ConfigureAwait(false);
    }

    internal ValueTask OpenAsync() => IsOpen ? default : OpenSlowAsync();

    /// <summary>Only for synchronous writes, which block on I/O anyway (and need <c>AllowSynchronousIO</c>).</summary>
    internal void Open()
    {
        if (!IsOpen)
        {
            OpenSlowAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private async ValueTask OpenSlowAsync()
    {
        if (_failure is not null)
        {
            ExceptionDispatchInfo.Throw(_failure);
        }

        if (!context.Response.HasStarted)
        {
            try
            {
                await session.CommitAsync(context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisEdgeUnavailableException or RedisSessionLimitExceededException)
            {
                _failure = ex;
                throw;
            }
        }

        IsOpen = true;
    }

    /// <summary>The response stream, committing the session before its first write or flush.</summary>
    private sealed class GateStream(Stream inner, RedisSessionResponseBodyFeature gate) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => inner.CanWrite;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
            gate.Open();
            inner.Flush();
        }

        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            await gate.OpenAsync().ConfigureAwait(false);
            await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            gate.Open();
            inner.Write(buffer, offset, count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            gate.Open();
            inner.Write(buffer);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await gate.OpenAsync().ConfigureAwait(false);
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>
    /// The response pipe. Until the commit has run, what the endpoint writes stays in a buffer of its own (some servers
    /// start the response on the first <c>GetMemory</c>); the first flush commits, then hands the buffer over.
    /// </summary>
    private sealed class GatePipeWriter(PipeWriter inner, RedisSessionResponseBodyFeature gate) : PipeWriter
    {
        private ArrayBufferWriter<byte>? _held;

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes + (_held?.WrittenCount ?? 0);

        public override Memory<byte> GetMemory(int sizeHint = 0)
            => _held is null && gate.IsOpen ? inner.GetMemory(sizeHint) : (_held ??= new()).GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0)
            => _held is null && gate.IsOpen ? inner.GetSpan(sizeHint) : (_held ??= new()).GetSpan(sizeHint);

        public override void Advance(int bytes)
        {
            if (_held is not null)
            {
                _held.Advance(bytes);
            }
            else
            {
                inner.Advance(bytes);
            }
        }

        public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            await OpenAsync().ConfigureAwait(false);
            return await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        public override async ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            await OpenAsync().ConfigureAwait(false);
            return await inner.WriteAsync(source, cancellationToken).ConfigureAwait(false);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null)
        {
            if (exception is null)
            {
                gate.Open();
                Release();
            }

            inner.Complete(exception);
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            if (exception is null)
            {
                await OpenAsync().ConfigureAwait(false);
            }

            await inner.CompleteAsync(exception).ConfigureAwait(false);
        }

        private async ValueTask OpenAsync()
        {
            await gate.OpenAsync().ConfigureAwait(false);
            Release();
        }

        private void Release()
        {
            if (_held is { } held)
            {
                _held = null;
                if (held.WrittenCount > 0)
                {
                    inner.Write(held.WrittenSpan);
                }
            }
        }
    }
}
