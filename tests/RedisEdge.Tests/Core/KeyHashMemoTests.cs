using RedisEdge.Internal;

namespace RedisEdge.Tests.Core;

/// <summary>
/// The memo of derived key strings: it answers what was added for the same characters, never for others; it stays
/// bounded by emptying itself when full; it never keeps a value longer than its limit; and concurrent use keeps every
/// answer right.
/// </summary>
public sealed class KeyHashMemoTests
{
    [Fact]
    public void TryGet_AnswersWhatWasAddedForTheSameCharacters_AndNothingForOthers()
    {
        var memo = new KeyHashMemo(capacity: 16, maxLength: 64);
        memo.Add("session-a".AsSpan(), "tag-a");

        Assert.True(memo.TryGet("session-a".AsSpan(), out var found));
        Assert.Equal("tag-a", found);
        Assert.False(memo.TryGet("session-A".AsSpan(), out _));
        Assert.False(memo.TryGet("session-".AsSpan(), out _));
    }

    [Fact]
    public void Add_BeyondTheCapacity_EmptiesTheMemoFirst_SoItNeverHoldsMoreThanItsCapacity()
    {
        var memo = new KeyHashMemo(capacity: 100, maxLength: 64);
        for (var i = 0; i < 1_000; i++)
        {
            memo.Add($"value-{i}".AsSpan(), $"derived-{i}");
            Assert.InRange(memo.Count, 1, 100);
        }

        // The most recent value survives the last emptying.
        Assert.True(memo.TryGet("value-999".AsSpan(), out var last));
        Assert.Equal("derived-999", last);
    }

    [Fact]
    public void Add_OfAValueLongerThanTheLimit_KeepsNothing()
    {
        var memo = new KeyHashMemo(capacity: 16, maxLength: 8);
        memo.Add("123456789".AsSpan(), "derived");

        Assert.Equal(0, memo.Count);
        Assert.False(memo.TryGet("123456789".AsSpan(), out _));
    }

    [Fact]
    public async Task ConcurrentUse_WhileTheMemoEmptiesItself_NeverAnswersAnotherValuesString()
    {
        var memo = new KeyHashMemo(capacity: 64, maxLength: 64);
        var wrong = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                var value = $"v{(i * 7 + worker) % 500}";
                var expected = RedisKeyBuilder.Hash(value);
                if (memo.TryGet(value.AsSpan(), out var known))
                {
                    if (known != expected)
                    {
                        Interlocked.Increment(ref wrong);
                    }
                }
                else
                {
                    memo.Add(value.AsSpan(), expected);
                }
            }
        })));

        Assert.Equal(0, wrong);
        Assert.InRange(memo.Count, 0, 64 + 4);
    }
}
