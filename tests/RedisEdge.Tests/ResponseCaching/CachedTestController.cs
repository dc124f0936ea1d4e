using Microsoft.AspNetCore.Mvc;
using RedisEdge.ResponseCaching;

namespace RedisEdge.Tests.ResponseCaching;

[ApiController]
[Route("rc-test")]
[CacheResponse("class")]
public sealed class CachedTestController : ControllerBase
{
    private static int _renders;

    public static int Renders => Volatile.Read(ref _renders);

    [HttpGet("inherited/{id}")]
    public string Inherited(string id) => $"{id}:{Interlocked.Increment(ref _renders)}";

    [HttpGet("action/{id}")]
    [CacheResponse("action")]
    public string Action(string id) => $"{id}:{Interlocked.Increment(ref _renders)}";

    [HttpGet("short/{id}")]
    [CacheResponse("class", Duration = 30)]
    public string Brief(string id) => $"{id}:{Interlocked.Increment(ref _renders)}";

    [HttpGet("off/{id}")]
    [DisableResponseCaching]
    public string Off(string id) => $"{id}:{Interlocked.Increment(ref _renders)}";
}
