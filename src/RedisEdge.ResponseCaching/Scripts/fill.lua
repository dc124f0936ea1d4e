--[[
fill.lua - stores a response, fenced by the fill lease.

KEYS[1]      entry hash (see lookup.lua for its fields).
KEYS[2..n]   tag sets (sorted sets of entry keys, each stored without the prefix it shares with the
             set, scored by the entry's expiry, server
             ms): the policy's tags and the resource set that EvictAsync uses. Same hash tag
             as KEYS[1], so one slot.
ARGV[1]      owner token the lease was taken with in lookup.lua.
ARGV[2..5]   status, serialized headers, body, ETag.
ARGV[6..8]   time to live, stale-while-revalidate and stale-if-error windows, in ms.
ARGV[9]      pub/sub channel: the entry key is published, so waiting requests wake and near
             caches drop their copy (a replaced entry is an invalidation).

Returns   { stored, now } - stored 0 when this request no longer holds the lease (the entry
          was evicted or the lease expired and another request took it): a response computed
          before an eviction never lands after it.
]]

local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('TYPE', key).ok ~= 'hash' or redis.call('HGET', key, 'l') ~= ARGV[1] then
  return { 0, now }
end

local ttl, swr, sie = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local life = ttl + math.max(swr, sie)
redis.call('DEL', key)
redis.call('HSET', key, 's', ARGV[2], 'h', ARGV[3], 'b', ARGV[4], 'et', ARGV[5],
  'c', now, 'f', now + ttl, 'w', now + ttl + swr, 'x', now + ttl + sie)
redis.call('PEXPIRE', key, life)

-- Set members are the entry key after its hash tag (":e:<variant>", under 64 bytes), not the whole key name: a
-- sorted set keeps members of up to 64 bytes in a compact listpack (about 100 bytes for one entry) and converts to
-- a skiplist (about 1 KB) for longer ones. evict_tag.lua puts the set's own prefix back in front.
local member = string.sub(key, string.find(key, '}', 1, true) + 1)
for i = 2, #KEYS do
  local set = KEYS[i]
  if redis.call('TYPE', set).ok ~= 'zset' then redis.call('DEL', set) end
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
  redis.call('ZADD', set, now + life, member)
  if redis.call('PTTL', set) < life then redis.call('PEXPIRE', set, life) end
end

redis.call('PUBLISH', ARGV[9], key)
return { 1, now }
