using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using RedisEdge.Internal;
using RedisEdge.Tests.Infrastructure;

namespace RedisEdge.Tests.Core;

[Collection(RedisCollection.Name)]
public sealed class RedisEdgeTelemetryTests(RedisServerFixture redis)
{
    [Fact]
    public async Task ScriptCall_EmitsClientSpanWithRedisAttributes_ThroughOpenTelemetry()
    {
        var exported = new List<Activity>();
        using var tracer = Sdk.CreateTracerProviderBuilder()
            .AddRedisEdgeInstrumentation()
            .AddProcessor(new CollectingProcessor(exported))
            .Build();
        await using var core = CoreTestServices.Create(redis.Configuration);
        var key = core.Keys.Key("test", "span", "counter");

        await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);

        // Tests running in parallel end spans on the same sources while this one reads: read a snapshot.
        List<Activity> spans;
        lock (exported)
        {
            spans = [.. exported];
        }

        var span = Assert.Single(spans, a => a.Source.Name == RedisEdgeTelemetryNames.Core && (string?)a.GetTagItem("redisedge.script") == "test_counter");
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.Equal("redis", span.GetTagItem("db.system"));
        Assert.Equal("EVALSHA", span.GetTagItem("db.operation.name"));
        Assert.Equal("success", span.GetTagItem("redisedge.outcome"));
        Assert.Equal("127.0.0.1", span.GetTagItem("server.address"));
    }

    [Fact]
    public async Task ScriptCall_RecordsDurationHistogram()
    {
        await using var core = CoreTestServices.Create(redis.Configuration);
        using var collector = new MeasurementRecorder<double>(core.Telemetry.Meter, RedisFeatureTelemetry.ScriptDurationName);
        var key = core.Keys.Key("test", "metric", "counter");

        await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);
        await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);

        var measurements = collector.Measurements;
        Assert.Equal(2, measurements.Count);
        Assert.All(measurements, m =>
        {
            Assert.True(m.Value > 0);
            Assert.Equal("test_counter", m.Tags["redisedge.script"]);
            Assert.Equal("success", m.Tags["redisedge.outcome"]);
        });
    }

    [Fact]
    public async Task MeterProvider_AddRedisEdgeInstrumentation_ExportsScriptDuration()
    {
        var exported = new List<Metric>();
        using var meters = Sdk.CreateMeterProviderBuilder()
            .AddRedisEdgeInstrumentation()
            .AddReader(new BaseExportingMetricReader(new CollectingExporter(exported)))
            .Build();
        await using var core = CoreTestServices.Create(redis.Configuration);
        var key = core.Keys.Key("test", "otelmetric", "counter");

        await core.Runner.EvaluateAsync(CoreTestServices.CounterScript, [key], [60_000], CancellationToken.None);
        meters.ForceFlush();

        var metric = Assert.Single(exported, m => m.MeterName == RedisEdgeTelemetryNames.Core && m.Name == RedisFeatureTelemetry.ScriptDurationName);
        Assert.Equal("s", metric.Unit);
    }

    private sealed class CollectingExporter(List<Metric> sink) : BaseExporter<Metric>
    {
        public override ExportResult Export(in Batch<Metric> batch)
        {
            foreach (var metric in batch)
            {
                sink.Add(metric);
            }

            return ExportResult.Success;
        }
    }

    private sealed class CollectingProcessor(List<Activity> sink) : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data)
        {
            lock (sink)
            {
                sink.Add(data);
            }
        }
    }
}
