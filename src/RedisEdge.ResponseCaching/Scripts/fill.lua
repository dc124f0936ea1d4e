--[[
fill.lua - stores a response, fenced by the fill lease and by every eviction that came after the lease.

KEYS[1]      entry hash (see lookup.lua for its fields).
KEYS[2]      the policy's eviction sequence (see evict_tag.lua).
KEYS[3..]    n sets, then their n eviction epochs: the sets are sorted sets of entry keys, each stored without the
             prefix it shares with the set, scored by the entry's expiry (server ms): the resource set that EvictAsync
             uses and the policy's tag sets. The epoch of a set (a string) is the sequence value of its last eviction.
KEYS[#-1]    the policy's index: sorted set of its stored entries (members as in the sets), scored by expiry, so the
             first trimmed are those that would expire first (the oldest fills).
KEYS[#]      the index metadata: hash member -> "<bytes>\n<set suffix>\n...", the entry's size and the sets it joined
             (to remove it from them when trimmed); field '#' = total bytes.
             Every key has the hash tag of KEYS[1] (one policy, one slot), so the bound is kept in the same call.
ARGV[1]      owner token the lease was taken with in lookup.lua.
ARGV[2..5]   status, serialized headers, body, ETag.
ARGV[6..8]   time to live, stale-while-revalidate and stale-if-error windows, in ms.
ARGV[9]      pub/sub channel: the entry key is published, so waiting requests wake and near
             caches drop their copy (a replaced entry is an invalidation).
ARGV[10]     format version written with the entry.
ARGV[11]     eviction fence in ms: how long an eviction's epoch is kept. A lease older than this is refused, since an
             eviction during it may no longer be on record.
ARGV[12]     maximum entries of the policy (0 = no count bound).
ARGV[13]     maximum bytes of the policy, headers and bodies (0 = no byte bound).

Returns   { stored, now } - stored 1 when stored;
          0 when this request no longer holds the lease (the entry was deleted, or the lease expired and another
            request took it);
          2 when an eviction of one of the fill's sets (or of its URL) came after the lease was taken: the response
            may have been computed from data the eviction was about, so it is not stored, and the lease is given
            back (waiting requests wake and one of them fills again).
          A stored fill then keeps the policy within its bound: at most 64 entries are trimmed (deleted, with their set
          memberships, and published with the entry key) and 64 expired ones forgotten per call, so it stays short; a
          bound lowered at run time is reached over the next fills. Entries deleted by an eviction stay counted until
          they expire or are trimmed (trimming them deletes nothing).
]]

local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- No TYPE probes: a key of another type makes the first command on it fail (pcall), and only then is it handled.
local held = redis.pcall('HMGET', key, 'l', 'lg', 'lt', 's')
if held.err or held[1] ~= ARGV[1] then
  return { 0, now }
end

local function number(k)
  local v = redis.pcall('GET', k)
  return type(v) == 'string' and tonumber(v) or nil
end

local n = (#KEYS - 4) / 2
local index, meta = KEYS[#KEYS - 1], KEYS[#KEYS]
local lg, lt = tonumber(held[2]), tonumber(held[3])
local seq = number(KEYS[2])
local fenced = not lg or not lt or now - lt > tonumber(ARGV[11]) or not seq or seq < lg
for i = 3 + n, 2 + 2 * n do
  if fenced then break end
  local epoch = number(KEYS[i])
  if epoch and epoch > lg then fenced = true end
end

if fenced then
  if held[4] then
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
local base = string.sub(key, 1, string.find(key, '}', 1, true))
local member = string.sub(key, #base + 1)
local function expire_at_least(k)
  if redis.call('PTTL', k) < life then redis.call('PEXPIRE', k, life) end
end

-- ZADD is the script's first write: under maxmemory with noeviction Redis refuses a script's first write that can
-- grow memory (OOM) but lets a script that has written anything finish, so an out-of-memory Redis stores nothing here.
-- A set of another type (foreign data) fails the ZADD without writing; it is deleted and the ZADD sent again. Any
-- other error (OOM, a refused command) is raised again as the script's error.
for i = 3, 2 + n do
  local set = KEYS[i]
  local added = redis.pcall('ZADD', set, now + life, member)
  if type(added) == 'table' and added.err then
    if not string.find(added.err, 'WRONGTYPE', 1, true) then
      redis.call('ZADD', set, now + life, member)
    end
    redis.call('DEL', set)
    redis.call('ZADD', set, now + life, member)
  end
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
  expire_at_least(set)
end

-- The entry is written after it joined its sets: Redis does not roll a script back, so a command that fails above (a
-- script error) leaves no stored entry that tag or URL eviction could not find, only the lease, which is given back.
redis.call('DEL', key)
redis.call('HSET', key, 'v', ARGV[10], 's', ARGV[2], 'h', ARGV[3], 'b', ARGV[4], 'et', ARGV[5],
  'c', now, 'f', now + ttl, 'w', now + ttl + swr, 'x', now + ttl + sie)
redis.call('PEXPIRE', key, life)

-- The policy's bound (one call with the fill: the index and its metadata share the entry's slot).
local expired = redis.pcall('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, 64)
if expired.err then
  redis.call('DEL', index)
  expired = {}
end
local total = redis.pcall('HGET', meta, '#')
if type(total) == 'table' and total.err then
  redis.call('DEL', meta)
  total = nil
end
total = tonumber(total) or 0

local function size_of(m)
  local v = redis.call('HGET', meta, m)
  if not v then return 0, nil end
  local nl = string.find(v, '\n', 1, true)
  return tonumber(nl and string.sub(v, 1, nl - 1) or v) or 0, v
end

local function forget(m, size)
  redis.call('HDEL', meta, m)
  redis.call('ZREM', index, m)
  total = total - size
end

-- Entries that expired on their own: Redis deleted them, only their accounting is left.
for _, m in ipairs(expired) do
  forget(m, (size_of(m)))
end

-- This entry's record is replaced (HSET, ZADD): only the size of an earlier fill of it comes off the total.
local bytes = #ARGV[3] + #ARGV[4]
local previous = size_of(member)
local record = { tostring(bytes) }
for i = 3, 2 + n do record[#record + 1] = string.sub(KEYS[i], #base + 1) end
redis.call('HSET', meta, member, table.concat(record, '\n'))
redis.call('ZADD', index, now + life, member)
total = total - previous + bytes

local max_entries, max_bytes = tonumber(ARGV[12]), tonumber(ARGV[13])
local count = max_entries > 0 and redis.call('ZCARD', index) or 0
local published = { key }
while #published <= 64 and ((max_entries > 0 and count > max_entries) or (max_bytes > 0 and total > max_bytes)) do
  local first = redis.call('ZRANGE', index, 0, 0)[1]
  if not first then break end
  local size, trimmed = size_of(first)
  if trimmed then
    local pos = string.find(trimmed, '\n', 1, true)
    while pos do
      local next_pos = string.find(trimmed, '\n', pos + 1, true)
      local set = base .. string.sub(trimmed, pos + 1, (next_pos or 0) - 1)
      local removed = redis.pcall('ZREM', set, first)
      if type(removed) == 'number' and redis.call('ZCARD', set) == 0 then redis.call('DEL', set) end
      pos = next_pos
    end
  end
  forget(first, size)
  count = count - 1
  redis.call('DEL', base .. first)
  published[#published + 1] = base .. first
end

redis.call('HSET', meta, '#', total)
expire_at_least(index)
expire_at_least(meta)

-- One message: the entry key, then the keys trimmed, one per line.
redis.call('PUBLISH', ARGV[9], table.concat(published, '\n'))
return { 1, now }
