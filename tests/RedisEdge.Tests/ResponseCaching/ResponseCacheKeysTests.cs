using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using RedisEdge.Internal;
using RedisEdge.ResponseCaching;
using RedisEdge.ResponseCaching.Internal;
using StackExchange.Redis;

namespace RedisEdge.Tests.ResponseCaching;

/// <summary>
/// The keys of a request, built for a hit without the set keys only a fill writes: the fill keys, built later, are
/// exactly the entry, the resource set and each distinct tag set in declaration order; the resource string of a URL
/// without a query is the path alone; fill-lease owners are unique.
/// </summary>
public sealed partial class ResponseCacheKeysTests
{
    [Fact]
    public void FillKeys_AreTheEntryTheSequenceTheResourceSetAndEachDistinctTagSet_ThenTheirEpochs_ThenThePolicyBound_InOrder()
    {
        var keys = new ResponseCacheKeys(new RedisKeyBuilder("app"));
        var policy = new ResponseCachePolicy("products", new RedisResponseCachePolicyOptions { Tags = ["product:{id}", "catalog", "catalog", "product:{id}"] });
        var context = new DefaultHttpContext();
        context.Request.Path = "/Products/7";
        context.Request.RouteValues = new RouteValueDictionary { ["id"] = "7" };

        var request = keys.ForRequest(context, policy);

        var resource = ResponseCacheKeys.ResourceString(policy, context.Request.Path, context.Request.Query);
        RedisKey[] sets = [keys.Resource(policy, resource), keys.Tag(policy, "product:7"), keys.Tag(policy, "catalog")];
        var (index, meta) = keys.Bound(policy);
        RedisKey[] expected = [request.Entry, keys.Sequence(policy), .. sets, .. sets.Select(ResponseCacheKeys.Epoch), index, meta];
        Assert.Equal(expected, request.FillKeys);
        Assert.Same(request.FillKeys, request.FillKeys);
        Assert.Equal(request.Entry.ToString(), request.EntryName);
        Assert.Equal([request.Entry, keys.Sequence(policy)], request.LookupKeys);
        Assert.Equal(ResponseCacheKeys.SequenceOf(request.Entry), request.LookupKeys[1]);

        // The same request on another instance composes the same keys: the fleet shares entries and sets.
        var again = new ResponseCacheKeys(new RedisKeyBuilder("app")).ForRequest(context, policy);
        Assert.Equal(request.Entry, again.Entry);
        Assert.Equal(expected, again.FillKeys);
    }

    [Fact]
    public void EntryKey_OfARepeatedRequest_ComesFromTheMemo_AndEqualsTheComputedKey_PerPolicy()
    {
        var keys = new ResponseCacheKeys(new RedisKeyBuilder("app"));
        var products = new ResponseCachePolicy("products", new RedisResponseCachePolicyOptions());
        var catalog = new ResponseCachePolicy("catalog", new RedisResponseCachePolicyOptions());
        var context = new DefaultHttpContext();
        context.Request.Path = "/Products/7";

        // Two policies, the same variant: two entry keys, each the one computed without the memo.
        var first = keys.ForRequest(context, products).EntryName;
        var other = keys.ForRequest(context, catalog).EntryName;
        Assert.NotEqual(first, other);
        var fresh = new ResponseCacheKeys(new RedisKeyBuilder("app"));
        Assert.Equal(fresh.ForRequest(context, products).EntryName, first);
        Assert.Equal(fresh.ForRequest(context, catalog).EntryName, other);

        // The repeated request gets the very string the first one made (no hash, no new string).
        Assert.Same(first, keys.ForRequest(context, products).EntryName);

        // Thousands of distinct variants (a cache-busting query) later, every key is still the computed one.
        for (var i = 0; i < 10_000; i++)
        {
            context.Request.Path = "/Products/" + i;
            var memoized = keys.ForRequest(context, products).EntryName;
            if (i % 997 == 0)
            {
                Assert.Equal(fresh.ForRequest(context, products).EntryName, memoized);
            }
        }

        context.Request.Path = "/Products/7";
        Assert.Equal(first, keys.ForRequest(context, products).EntryName);
    }

    [Theory]
    [InlineData("/Products/7", "")]
    [InlineData("/", "")]
    [InlineData("/Products/7", "?b=2&A=1&b=3")]
    public void EntryKey_IsTheHashOfTheLengthPrefixedVariant_SoEntriesStoredBeforeTheBufferedWriterStillHit(string path, string query)
    {
        var keys = new ResponseCacheKeys(new RedisKeyBuilder("app"));
        var policy = new ResponseCachePolicy("products", new RedisResponseCachePolicyOptions { VaryByHeaderNames = ["Accept-Language"] });
        var context = new DefaultHttpContext();
        context.Request.Scheme = "HTTP";
        context.Request.Host = new HostString("Example.COM");
        context.Request.PathBase = "/Shop";
        context.Request.Path = path;
        context.Request.QueryString = new QueryString(query);
        context.Request.Headers.AcceptLanguage = new Microsoft.Extensions.Primitives.StringValues(["fr", "en"]);

        // The variant as it was composed with StringBuilders: each part "{length}:{value};", a list "{count}#" then each.
        static string Part(string value) => $"{value.Length}:{value};";
        var resource = ResponseCacheKeys.ResourceString(policy, context.Request.Path, context.Request.Query);
        var variant = Part("v1") + Part("http") + Part("example.com") + Part("/shop") + Part(resource) + Part("accept-language") + "2#" + Part("fr") + Part("en");

        Assert.Equal(keys.Entry(policy, RedisKeyBuilder.Hash(variant)), keys.ForRequest(context, policy).Entry);
    }

    [Fact]
    public void ResourceString_WithoutAQuery_IsThePathAlone_AndWithOneTheSortedGroupedQuery()
    {
        var policy = new ResponseCachePolicy("all", new RedisResponseCachePolicyOptions());
        Assert.Equal("9:/products;", ResponseCacheKeys.ResourceString(policy, "/Products", QueryCollection.Empty));
        Assert.Equal("2:/a;", ResponseCacheKeys.ResourceString(policy, "/a", new QueryCollection()));

        var context = new DefaultHttpContext();
        context.Request.QueryString = new QueryString("?B=2&a=1&b=3");
        Assert.Equal("2:/a;1:a;1#1:1;1:b;2#1:2;1:3;", ResponseCacheKeys.ResourceString(policy, "/a", context.Request.Query));
    }

    [Fact]
    public void FillOwners_AreDistinct_AndShareThisProcessPrefix()
    {
        var owners = Enumerable.Range(0, 10_000).Select(_ => FillOwner.Next()).ToList();
        Assert.Equal(owners.Count, owners.Distinct(StringComparer.Ordinal).Count());
        Assert.All(owners, o => Assert.Matches(OwnerFormat(), o));
        Assert.Single(owners.Select(o => o[..16]).Distinct(StringComparer.Ordinal));
    }

    [GeneratedRegex("^[0-9A-F]{16}:[0-9a-f]{16}$")]
    private static partial Regex OwnerFormat();
}
