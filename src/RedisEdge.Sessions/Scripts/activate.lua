-- Last step of binding a session to a user: makes a pending session ("m:p", written by create.lua
-- or commit.lua before the session was added to its user's index) live. Because a bound session
-- only becomes live after it is in the index, list and revoke-all always find it; a revoke or an
-- eviction that ran in between deleted it, and then this call fails instead of reviving it.
-- KEYS[1]  session hash (see load.lua for the field layout).
-- ARGV[1]  idle timeout in milliseconds (> 0).
-- Returns  1   the session is live (expiry slid to min(idle, absolute expiry - now));
--          0   the session is gone (revoked, evicted or expired while it was being bound).
local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' then
  return 0
end
local abs = tonumber(redis.call('HGET', key, 'm:a'))
if not abs then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if abs <= now then
  redis.call('DEL', key)
  return 0
end
redis.call('HDEL', key, 'm:p')
redis.call('PEXPIRE', key, math.min(tonumber(ARGV[1]), abs - now))
return 1
