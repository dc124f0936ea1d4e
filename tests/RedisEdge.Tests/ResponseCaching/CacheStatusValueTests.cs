using RedisEdge.ResponseCaching.Internal;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>
/// The <c>Cache-Status</c> value of a hit is written on every hit, so it is formatted once and kept: below 4,096
/// seconds of TTL per second, above it the last one made (a day-long TTL changes once a second). Each detail keeps its
/// own values, and the text is the same as formatting it afresh.
/// </summary>
public sealed class CacheStatusValueTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("near")]
    [InlineData("stale-while-revalidate")]
    [InlineData("stale-if-error")]
    public void Hit_IsFormattedOncePerSecondOfTtl_ShortOrLong_AndReadsAsFormattedAfresh(string? detail)
    {
        var suffix = detail is null ? string.Empty : "; detail=" + detail;
        foreach (var ttlMs in new long[] { 0, 59_999, 4_095_999, 86_400_000, 86_399_001 })
        {
            Assert.Equal($"RedisEdge; hit; ttl={ttlMs / 1000}{suffix}", HttpCaching.Hit(ttlMs, detail));
            Assert.True(ReturnsAKeptString(ttlMs, detail), $"ttl {ttlMs} ms: every call made a new string");
        }

        // Each detail keeps its own: the same TTL with another detail is another value.
        Assert.NotEqual(HttpCaching.Hit(86_400_000, detail), HttpCaching.Hit(86_400_000, detail is null ? "near" : null));
    }

    /// <summary>
    /// Two calls in a row return one string. Tried a few times: a test running beside this one may serve a hit with
    /// another long TTL between the two calls, replacing the kept last value once, never every time.
    /// </summary>
    private static bool ReturnsAKeptString(long ttlMs, string? detail)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            if (ReferenceEquals(HttpCaching.Hit(ttlMs, detail), HttpCaching.Hit(ttlMs, detail)))
            {
                return true;
            }
        }

        return false;
    }

    [Fact]
    public void Hit_WithADetailOutsideTheKnownOnes_IsStillFormatted()
    {
        Assert.Equal("RedisEdge; hit; ttl=5; detail=other", HttpCaching.Hit(5_000, "other"));
    }
}
