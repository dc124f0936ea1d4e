-- Commits the keys a request changed; never creates or resurrects a session.
-- KEYS[1]  session hash (see load.lua for the field layout).
-- ARGV[1]  idle timeout in milliseconds (> 0).
-- ARGV[2]  '1' to remove every data field ("d:*") first (ISession.Clear), else '0'.
-- ARGV[3]  MaxSessionBytes: the most bytes the data fields ("d:*", field name plus value) may
--          take after this commit; 0 = no limit. The running total is kept in "m:s" while a limit
--          is set (computed once from the fields when missing), so concurrent commits cannot
--          exceed it together.
-- ARGV[4]  n, the number of field/value pairs that follow.
-- ARGV[5]  near-cache invalidation channel, or '' when no instance keeps near copies: a commit
--          publishes "<hash tag> <new version>" there, so other instances drop older copies.
-- ARGV[6 .. 5+2n]  field, value pairs to HSET (data fields "d:<key>"; binding also writes "m:u" and
--                  "m:p" = the pending lifetime in ms: the session is pending (not live, TTL capped
--                  by that lifetime) until activate.lua runs).
-- ARGV[6+2n ..]    fields to HDEL.
-- Every commit increments the version "m:v" (absent = 0), which near copies are compared by.
-- Returns  { new version, ttl ms }  committed (and expiry slid to ttl = min(idle, absolute expiry - now));
--          0   the session is gone or pending (destroyed, revoked, expired, being bound): nothing written;
--          -1  the absolute lifetime is over: the hash is deleted, nothing written;
--          -2  the data would exceed MaxSessionBytes: nothing written.
-- No TYPE probe on this hot path: a key of another type makes HMGET fail with WRONGTYPE (pcall).
local key = KEYS[1]
local m = redis.pcall('HMGET', key, 'm:a', 'm:p')
if m.err then
  return 0
end
local abs = tonumber(m[1])
if not abs or m[2] then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if abs <= now then
  redis.call('DEL', key)
  return -1
end
local clear = ARGV[2] == '1'
local max = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local firstDelete = 6 + 2 * n
local size = nil
if max > 0 then
  -- The size the data fields will have: what they take now (none after a clear), minus what the
  -- changed fields take now, plus what they will take.
  size = 0
  if not clear then
    size = tonumber(redis.call('HGET', key, 'm:s'))
    if not size then
      size = 0
      local fields = redis.call('HKEYS', key)
      for i = 1, #fields do
        if string.sub(fields[i], 1, 2) == 'd:' then
          size = size + #fields[i] + redis.call('HSTRLEN', key, fields[i])
        end
      end
    end
  end
  for i = 6, #ARGV do
    local field = ARGV[i]
    local isPairValue = i < firstDelete and (i - 6) % 2 == 1
    if not isPairValue and string.sub(field, 1, 2) == 'd:' then
      if not clear and redis.call('HEXISTS', key, field) == 1 then
        size = size - #field - redis.call('HSTRLEN', key, field)
      end
      if i < firstDelete then
        size = size + #field + #ARGV[i + 1]
      end
    end
  end
  if size > max then
    return -2
  end
end
if clear then
  local fields = redis.call('HKEYS', key)
  local doomed = {}
  for i = 1, #fields do
    if string.sub(fields[i], 1, 2) == 'd:' then
      doomed[#doomed + 1] = fields[i]
    end
  end
  -- HDEL in bounded batches: unpack() has a stack limit.
  for i = 1, #doomed, 1000 do
    redis.call('HDEL', key, unpack(doomed, i, math.min(i + 999, #doomed)))
  end
end
local ttl = math.min(tonumber(ARGV[1]), abs - now)
if n > 0 then
  for i = 6, firstDelete - 1, 2 do
    redis.call('HSET', key, ARGV[i], ARGV[i + 1])
    if ARGV[i] == 'm:p' then
      ttl = math.min(ttl, tonumber(ARGV[i + 1]))
    end
  end
end
for i = firstDelete, #ARGV do
  redis.call('HDEL', key, ARGV[i])
end
if size then
  redis.call('HSET', key, 'm:s', size)
else
  redis.call('HDEL', key, 'm:s')
end
redis.call('PEXPIRE', key, ttl)
local version = redis.call('HINCRBY', key, 'm:v', 1)
if ARGV[5] ~= '' then
  redis.call('PUBLISH', ARGV[5], string.match(key, '{([^{}]*)}$') .. ' ' .. version)
end
return { version, ttl }
