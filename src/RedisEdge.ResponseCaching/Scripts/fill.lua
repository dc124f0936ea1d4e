--[[
fill.lua - stores a response, fenced by the fill lease and by every eviction that came after the lease.

KEYS[1]      entry hash (see lookup.lua for its fields).
KEYS[2]      the policy's eviction sequence (see evict_tag.lua).
KEYS[3..]    n sets, then their n eviction epochs: the sets are sorted sets of entry keys, each stored without the
             prefix it shares with the set, scored by the entry's expiry (server ms): the resource set that EvictAsync
             uses and the policy's tag sets. The epoch of a set (a string) is the sequence value of its last eviction.
             Same hash tag as KEYS[1], so one slot.
ARGV[1]      owner token the lease was taken with in lookup.lua.
ARGV[2..5]   status, serialized headers, body, ETag.
ARGV[6..8]   time to live, stale-while-revalidate and stale-if-error windows, in ms.
ARGV[9]      pub/sub channel: the entry key is published, so waiting requests wake and near
             caches drop their copy (a replaced entry is an invalidation).
ARGV[10]     format version written with the entry.
ARGV[11]     eviction fence in ms: how long an eviction's epoch is kept. A lease older than this is refused, since an
             eviction during it may no longer be on record.

Returns   { stored, now } - stored 1 when stored;
          0 when this request no longer holds the lease (the entry was deleted, or the lease expired and another
            request took it);
          2 when an eviction of one of the fill's sets (or of its URL) came after the lease was taken: the response
            may have been computed from data the eviction was about, so it is not stored, and the lease is given
            back (waiting requests wake and one of them fills again).
]]

local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('TYPE', key).ok ~= 'hash' or redis.call('HGET', key, 'l') ~= ARGV[1] then
  return { 0, now }
end

local function number(k)
  local v = redis.pcall('GET', k)
  return type(v) == 'string' and tonumber(v) or nil
end

local n = (#KEYS - 2) / 2
local lease = redis.call('HMGET', key, 'lg', 'lt')
local lg, lt = tonumber(lease[1]), tonumber(lease[2])
local seq = number(KEYS[2])
local fenced = not lg or not lt or now - lt > tonumber(ARGV[11]) or not seq or seq < lg
for i = 3 + n, 2 + 2 * n do
  if fenced then break end
  local epoch = number(KEYS[i])
  if epoch and epoch > lg then fenced = true end
end

if fenced then
  if redis.call('HEXISTS', key, 's') == 1 then
    redis.call('HDEL', key, 'l', 'lx', 'lg', 'lt')
  else
    redis.call('DEL', key)
  end
  redis.call('PUBLISH', ARGV[9], key)
  return { 2, now }
end

local ttl, swr, sie = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local life = ttl + math.max(swr, sie)

-- Set members are the entry key after its hash tag (":e:<variant>", under 64 bytes), not the whole key name: a
-- sorted set keeps members of up to 64 bytes in a compact listpack (about 100 bytes for one entry) and converts to
-- a skiplist (about 1 KB) for longer ones. evict_tag.lua puts the set's own prefix back in front.
local member = string.sub(key, string.find(key, '}', 1, true) + 1)
for i = 3, 2 + n do
  local set = KEYS[i]
  local type = redis.call('TYPE', set).ok
  if type ~= 'zset' and type ~= 'none' then redis.call('DEL', set) end
  redis.call('ZADD', set, now + life, member)
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
  if redis.call('PTTL', set) < life then redis.call('PEXPIRE', set, life) end
end

-- The entry is written after it joined its sets: Redis does not roll a script back, so a command that fails above (a
-- script error) leaves no stored entry that tag or URL eviction could not find, only the lease, which is given back.
-- ZADD is the script's first write (unless a set of another type is deleted): under maxmemory with noeviction Redis
-- refuses a script's first write that can grow memory (OOM) but lets a script that has written anything finish, so an
-- out-of-memory Redis stores nothing here.
redis.call('DEL', key)
redis.call('HSET', key, 'v', ARGV[10], 's', ARGV[2], 'h', ARGV[3], 'b', ARGV[4], 'et', ARGV[5],
  'c', now, 'f', now + ttl, 'w', now + ttl + swr, 'x', now + ttl + sie)
redis.call('PEXPIRE', key, life)

redis.call('PUBLISH', ARGV[9], key)
return { 1, now }
