-- The near cache's load: reads a session for an instance that may already hold a copy of it, and
-- slides its expiry only when asked (at most once per SlideFraction x IdleTimeout per instance).
-- KEYS[1]  session hash (see load.lua for the field layout; "m:v" is the version commit.lua
--          increments, absent = 0).
-- ARGV[1]  idle timeout in milliseconds to slide to, or '0' to verify without sliding.
-- ARGV[2]  the version of the copy the caller holds, or '-1' for none: when the session still has
--          that version its fields are not sent again.
-- Returns  0   when there is no live session (missing key, not a hash, no absolute expiry, pending);
--          -1  when the absolute lifetime is over (the hash is deleted);
--          otherwise { version, ttl ms, fields } where ttl is the remaining time to live after the
--          slide (PTTL when not sliding; never beyond the absolute expiry) and fields the flat
--          HGETALL array, or an empty array when the version equals ARGV[2].
-- No TYPE probe (hot path): a key of another type makes HMGET fail with WRONGTYPE, which pcall
-- turns into "no live session".
local key = KEYS[1]
local m = redis.pcall('HMGET', key, 'm:a', 'm:p', 'm:v')
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
local ttl
if ARGV[1] ~= '0' then
  ttl = math.min(tonumber(ARGV[1]), abs - now)
  redis.call('PEXPIRE', key, ttl)
else
  ttl = math.min(redis.call('PTTL', key), abs - now)
end
local version = tonumber(m[3]) or 0
if version == tonumber(ARGV[2]) then
  return { version, ttl, {} }
end
return { version, ttl, redis.call('HGETALL', key) }
