-- Reads a session's metadata without sliding its expiry (listing a user's sessions, and checking
-- which of them are live before the per-user limit is enforced).
-- KEYS[1]  session hash (see load.lua for the field layout).
-- Returns  0 when the session is gone (missing, not a hash, past its absolute lifetime); otherwise
--          { created ms, absolute expiry ms, remaining idle ttl ms, user tag or '', 1 if pending else 0 }.
local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' then
  return 0
end
local m = redis.call('HMGET', key, 'm:c', 'm:a', 'm:u', 'm:p')
if not m[2] then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(m[2]) <= now then
  return 0
end
return { tonumber(m[1]) or 0, tonumber(m[2]), redis.call('PTTL', key), m[3] or '', m[4] and 1 or 0 }
