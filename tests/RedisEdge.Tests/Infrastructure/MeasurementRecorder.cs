using System.Diagnostics.Metrics;

namespace RedisEdge.Tests.Infrastructure;

/// <summary>Records the measurements of one instrument of one meter (by meter object, so parallel tests never mix).</summary>
public sealed class MeasurementRecorder<T> : IDisposable
    where T : struct
{
    private readonly MeterListener _listener = new();
    private readonly List<(T Value, Dictionary<string, object?> Tags)> _measurements = [];

    public MeasurementRecorder(Meter meter, string instrumentName)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == instrumentName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<T>((_, value, tags, _) =>
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            lock (_measurements)
            {
                _measurements.Add((value, copy));
            }
        });
        _listener.Start();
    }

    public IReadOnlyList<(T Value, Dictionary<string, object?> Tags)> Measurements
    {
        get
        {
            lock (_measurements)
            {
                return [.. _measurements];
            }
        }
    }

    public void Dispose() => _listener.Dispose();
}
