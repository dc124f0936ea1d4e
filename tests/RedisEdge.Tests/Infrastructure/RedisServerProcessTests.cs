namespace RedisEdge.Tests.Infrastructure;

public sealed class RedisServerProcessTests
{
    [Fact]
    public void FindOnPath_RedisServerAbsent_ReturnsNull()
    {
        var empty = Directory.CreateTempSubdirectory("redisedge-nopath-").FullName;

        Assert.Null(RedisServerProcess.FindOnPath("redis-server", empty));
    }

    [Fact]
    public void FindOnPath_MachinePath_FindsRedisServer()
    {
        // The suite needs a real redis-server; this fails (never skips) with the install hint when there is none.
        Assert.True(
            RedisServerProcess.FindOnPath("redis-server", Environment.GetEnvironmentVariable("PATH")) is not null,
            RedisServerProcess.InstallHint);
    }

    [Fact]
    public void InstallHint_SaysHowToInstall()
    {
        Assert.Contains("apt-get install -y redis-server", RedisServerProcess.InstallHint, StringComparison.Ordinal);
        Assert.Contains(RedisServerFixture.EnvironmentVariable, RedisServerProcess.InstallHint, StringComparison.Ordinal);
    }
}
