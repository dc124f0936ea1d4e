-- Creates a session under a fresh id (first write of a new session, the second half of
-- regenerate, which carries the old session's fields over, or the first step of binding a new
-- session to a user, which passes "m:u" and "m:p" so the session stays pending until it is indexed).
-- KEYS[1]  session hash for the new id (see load.lua for the field layout).
-- ARGV[1]  idle timeout in milliseconds (> 0).
-- ARGV[2]  absolute lifetime in milliseconds (> 0); used only when the pairs carry no "m:a".
-- ARGV[3]  MaxSessionBytes: the most bytes the data fields ("d:*", field name plus value) may
--          take; 0 = no limit. With a limit, their total is stored in "m:s" (see commit.lua).
-- ARGV[4 ..] field, value pairs to store (data "d:<key>"; regenerate also passes "m:c", "m:a", "m:u";
--          binding passes "m:u" and "m:p" = the pending lifetime in ms, which caps the TTL until
--          activate.lua makes the session live, so an abandoned binding leaves nothing for long).
-- Returns  the absolute expiry (ms, Redis clock) on success;
--          0   the key already exists (id collision: the caller retries with another id);
--          -1  the carried-over absolute expiry has already passed: nothing written;
--          -2  the data fields exceed MaxSessionBytes: nothing written.
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local abs = nil
local created = nil
local pending = nil
local max = tonumber(ARGV[3])
local size = 0
for i = 4, #ARGV, 2 do
  if ARGV[i] == 'm:a' then abs = tonumber(ARGV[i + 1]) end
  if ARGV[i] == 'm:c' then created = ARGV[i + 1] end
  if ARGV[i] == 'm:p' then pending = tonumber(ARGV[i + 1]) end
  if string.sub(ARGV[i], 1, 2) == 'd:' then size = size + #ARGV[i] + #ARGV[i + 1] end
end
if max > 0 and size > max then
  return -2
end
if not abs then
  abs = now + tonumber(ARGV[2])
end
if abs <= now then
  return -1
end
redis.call('HSET', key, 'm:a', abs, 'm:c', created or now)
if max > 0 then
  redis.call('HSET', key, 'm:s', size)
end
for i = 4, #ARGV, 2 do
  if ARGV[i] ~= 'm:a' and ARGV[i] ~= 'm:c' and ARGV[i] ~= 'm:s' then
    redis.call('HSET', key, ARGV[i], ARGV[i + 1])
  end
end
local ttl = math.min(tonumber(ARGV[1]), abs - now)
if pending then
  ttl = math.min(ttl, pending)
end
redis.call('PEXPIRE', key, ttl)
return abs
