-- Commits the keys a request changed; never creates or resurrects a session.
-- KEYS[1]  session hash (see load.lua for the field layout).
-- ARGV[1]  idle timeout in milliseconds (> 0).
-- ARGV[2]  '1' to remove every data field ("d:*") first (ISession.Clear), else '0'.
-- ARGV[3]  n, the number of field/value pairs that follow.
-- ARGV[4 .. 3+2n]  field, value pairs to HSET (data fields "d:<key>"; binding also writes "m:u" and
--                  "m:p" = the pending lifetime in ms: the session is pending (not live, TTL capped
--                  by that lifetime) until activate.lua runs).
-- ARGV[4+2n ..]    fields to HDEL.
-- Returns  1   committed (and expiry slid to min(idle, absolute expiry - now));
--          0   the session is gone or pending (destroyed, revoked, expired, being bound): nothing written;
--          -1  the absolute lifetime is over: the hash is deleted, nothing written.
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
if ARGV[2] == '1' then
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
local n = tonumber(ARGV[3])
local firstDelete = 4 + 2 * n
local ttl = math.min(tonumber(ARGV[1]), abs - now)
if n > 0 then
  for i = 4, firstDelete - 1, 2 do
    redis.call('HSET', key, ARGV[i], ARGV[i + 1])
    if ARGV[i] == 'm:p' then
      ttl = math.min(ttl, tonumber(ARGV[i + 1]))
    end
  end
end
for i = firstDelete, #ARGV do
  redis.call('HDEL', key, ARGV[i])
end
redis.call('PEXPIRE', key, ttl)
return 1
