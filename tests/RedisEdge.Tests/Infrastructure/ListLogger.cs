using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>Keeps every log entry written through it, so a test can count what was logged.</summary>
public sealed class ListLogger : ILogger, ILoggerProvider
{
    private readonly ConcurrentQueue<Entry> _entries = new();

    public IReadOnlyList<Entry> Entries => [.. _entries];

    public IReadOnlyList<Entry> At(LogLevel level) => [.. _entries.Where(e => e.Level == level)];

    public IReadOnlyList<Entry> Named(string eventName) => [.. _entries.Where(e => e.EventName == eventName)];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => _entries.Enqueue(new Entry(logLevel, eventId.Name ?? string.Empty, formatter(state, exception), exception));

    public ILogger CreateLogger(string categoryName) => this;

    public void Dispose()
    {
    }

    public sealed record Entry(LogLevel Level, string EventName, string Message, Exception? Exception);
}
