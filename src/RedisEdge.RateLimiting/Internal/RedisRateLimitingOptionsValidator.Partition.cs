namespace RedisEdge.RateLimiting.Internal;

internal sealed partial class RedisRateLimitingOptionsValidator
{
    /// <summary>Whom a policy counts: the partition kind, what it needs, and the prefix lengths of Ip partitions.</summary>
    private static void ValidatePartition(string path, RedisRateLimitPolicyOptions policy, List<string> errors)
    {
        if (!Enum.IsDefined(policy.Partition))
        {
            errors.Add($"{path}:Partition must be one of {string.Join(", ", Enum.GetNames<RedisRateLimitPartitionKind>())}.");
        }

        if (!Enum.IsDefined(policy.PartitionFallback))
        {
            errors.Add($"{path}:PartitionFallback must be ClientIp or Shared.");
        }

        if (policy.Partition is RedisRateLimitPartitionKind.Claim or RedisRateLimitPartitionKind.Header && string.IsNullOrWhiteSpace(policy.PartitionName))
        {
            errors.Add($"{path}:PartitionName is required when Partition is {policy.Partition}.");
        }

        if (policy.Partition == RedisRateLimitPartitionKind.Custom && policy.PartitionResolver is null)
        {
            errors.Add($"{path}:PartitionResolver must be set in code when Partition is Custom.");
        }

        if (policy.IPv4PrefixLength is < 1 or > 32)
        {
            errors.Add($"{path}:IPv4PrefixLength must be between 1 and 32 (was {policy.IPv4PrefixLength}).");
        }

        if (policy.IPv6PrefixLength is < 1 or > 128)
        {
            errors.Add($"{path}:IPv6PrefixLength must be between 1 and 128 (was {policy.IPv6PrefixLength}).");
        }
        else if (policy.Partition == RedisRateLimitPartitionKind.Ip && policy.IPv4PrefixLength is >= 1 and <= 32)
        {
            ValidateIpEntries(path, policy, errors);
        }
    }

    /// <summary>Per-partition overrides of a policy's limits.</summary>
    private static void ValidateOverrides(string path, RedisRateLimitPolicyOptions policy, List<string> errors)
    {
        for (var i = 0; i < policy.Overrides.Count; i++)
        {
            var o = policy.Overrides[i];
            if (o is null || o.PermitLimit <= 0)
            {
                errors.Add($"{path}:Overrides:{i}:PermitLimit must be > 0 (was {o?.PermitLimit}).");
            }
            else if (o.TokensPerPeriod < 0 || o.Burst < 0)
            {
                errors.Add($"{path}:Overrides:{i}: TokensPerPeriod and Burst must be >= 0.");
            }
        }
    }

    /// <summary>An Ip policy's lists and overrides must name addresses or networks a client can fall into.</summary>
    private static void ValidateIpEntries(string path, RedisRateLimitPolicyOptions policy, List<string> errors)
    {
        void Check(string entryPath, string? entry)
        {
            if (entry is not null && !IpPartition.TryNormalize(entry, policy.IPv4PrefixLength, policy.IPv6PrefixLength, out _, out var error))
            {
                errors.Add($"{entryPath}: {error}.");
            }
        }

        for (var i = 0; i < policy.AllowList.Count; i++)
        {
            Check($"{path}:AllowList:{i}", policy.AllowList[i]);
        }

        for (var i = 0; i < policy.DenyList.Count; i++)
        {
            Check($"{path}:DenyList:{i}", policy.DenyList[i]);
        }

        for (var i = 0; i < policy.Overrides.Count; i++)
        {
            Check($"{path}:Overrides:{i}:Partition", policy.Overrides[i]?.Partition);
        }
    }
}
