-- Loads a session and slides its expiry in one call.
-- KEYS[1]  session hash ({prefix}:sessions:{sha256(id)}); fields "m:c" created (ms), "m:a" absolute
--          expiry (ms, Redis server clock), "m:u" bound user tag (optional), "m:p" present while the
--          session is being bound to a user (pending: not live yet, see activate.lua), "d:<key>" data.
-- ARGV[1]  idle timeout in milliseconds (> 0).
-- Returns  0   when there is no live session (missing key, not a hash, no absolute expiry, pending);
--          -1  when the absolute lifetime is over (the hash is deleted);
--          otherwise the flat HGETALL array (field, value, ...) after the TTL was set to
--          min(idle timeout, absolute expiry - now). Slides even when nothing changes.
-- Runs on every request that carries a session cookie, so no TYPE probe: a key of another type (foreign
-- data) makes HMGET fail with WRONGTYPE, which pcall turns into "no live session".
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
local ttl = math.min(tonumber(ARGV[1]), abs - now)
redis.call('PEXPIRE', key, ttl)
return redis.call('HGETALL', key)
