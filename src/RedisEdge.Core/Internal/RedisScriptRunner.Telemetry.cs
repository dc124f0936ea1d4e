using System.Diagnostics;
using System.Net;

namespace RedisEdge.Internal;

internal sealed partial class RedisScriptRunner
{
    private Activity? StartActivity(RedisScript script)
    {
        var activity = _telemetry.ActivitySource.StartActivity("EVALSHA", ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("db.system", "redis");
            activity.SetTag("db.system.name", "redis");
            activity.SetTag("db.operation.name", "EVALSHA");
            activity.SetTag("redisedge.script", script.Name);
            if (_connection.Multiplexer.GetEndPoints() is [var endpoint, ..])
            {
                switch (endpoint)
                {
                    case DnsEndPoint dns:
                        activity.SetTag("server.address", dns.Host);
                        activity.SetTag("server.port", dns.Port);
                        break;
                    case IPEndPoint ip:
                        activity.SetTag("server.address", ip.Address.ToString());
                        activity.SetTag("server.port", ip.Port);
                        break;
                }
            }
        }

        return activity;
    }

    private void RecordFailure(RedisScript script, string outcome)
    {
        if (_telemetry.ScriptFailures.Enabled)
        {
            _telemetry.ScriptFailures.Add(
                1,
                new KeyValuePair<string, object?>("redisedge.script", script.Name),
                new KeyValuePair<string, object?>("redisedge.outcome", outcome));
        }
    }
}
