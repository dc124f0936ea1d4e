--[[
trim.lua - keeps one policy's stored entries within its bound (entry count and bytes), run after each stored fill.

KEYS[1]   the policy's index: sorted set of its stored entries (members as in the tag sets: the entry key after
          its hash tag), scored by the entry's expiry (server ms), so the first to go are those that would
          expire first (the oldest fills).
KEYS[2]   the policy's index metadata: hash member -> "<bytes>\n<set suffix>\n...", the entry's size and the
          tag and URL sets it joined (to remove it from them when trimmed); field '#' = total bytes.
          Same hash tag as KEYS[1], and as every entry and set it names (one policy, one slot).
ARGV[1]   member of the entry just stored.
ARGV[2]   its size in bytes (body and headers).
ARGV[3]   its lifetime in ms (time to live plus the longer stale window).
ARGV[4]   maximum entries (0 = no count bound).
ARGV[5]   maximum bytes (0 = no byte bound).
ARGV[6]   pub/sub channel: trimmed entry keys are published, one per line, so near caches drop them.
ARGV[7..] the set suffixes the entry joined (the part of each set key after the hash tag).

Returns   the number of entries trimmed. Each call trims at most 64 entries and forgets at most 64 expired
          ones, so it stays short; a bound lowered at run time is reached over the next fills. Entries
          deleted by an eviction stay counted until they expire or are trimmed (trimming them deletes nothing).
]]

local index, meta = KEYS[1], KEYS[2]
local member, bytes, life = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local max_entries, max_bytes = tonumber(ARGV[4]), tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('TYPE', index).ok ~= 'zset' then redis.call('DEL', index) end
if redis.call('TYPE', meta).ok ~= 'hash' then redis.call('DEL', meta) end

local base = string.sub(index, 1, string.find(index, '}', 1, true))

local function size_of(m)
  local v = redis.call('HGET', meta, m)
  if not v then return 0, nil end
  local nl = string.find(v, '\n', 1, true)
  return tonumber(nl and string.sub(v, 1, nl - 1) or v) or 0, v
end

local function forget(m)
  local size = size_of(m)
  redis.call('HDEL', meta, m)
  redis.call('ZREM', index, m)
  if size > 0 then redis.call('HINCRBY', meta, '#', -size) end
end

-- Entries that expired on their own: Redis deleted them, only their accounting is left.
for _, m in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, 64)) do
  forget(m)
end

forget(member)
local record = { tostring(bytes) }
for i = 7, #ARGV do record[#record + 1] = ARGV[i] end
redis.call('HSET', meta, member, table.concat(record, '\n'))
redis.call('HINCRBY', meta, '#', bytes)
redis.call('ZADD', index, now + life, member)

local trimmed = {}
while #trimmed < 64 do
  local over_count = max_entries > 0 and redis.call('ZCARD', index) > max_entries
  local over_bytes = max_bytes > 0 and (tonumber(redis.call('HGET', meta, '#')) or 0) > max_bytes
  if not (over_count or over_bytes) then break end
  local first = redis.call('ZRANGE', index, 0, 0)[1]
  if not first then break end
  local _, record = size_of(first)
  if record then
    local pos = string.find(record, '\n', 1, true)
    while pos do
      local next_pos = string.find(record, '\n', pos + 1, true)
      local set = base .. string.sub(record, pos + 1, (next_pos or 0) - 1)
      local removed = redis.pcall('ZREM', set, first)
      if type(removed) == 'number' and redis.call('ZCARD', set) == 0 then redis.call('DEL', set) end
      pos = next_pos
    end
  end
  forget(first)
  redis.call('DEL', base .. first)
  trimmed[#trimmed + 1] = base .. first
end

for _, key in ipairs({ index, meta }) do
  if redis.call('PTTL', key) < life then redis.call('PEXPIRE', key, life) end
end
if #trimmed > 0 then
  redis.call('PUBLISH', ARGV[6], table.concat(trimmed, '\n'))
end
return #trimmed
