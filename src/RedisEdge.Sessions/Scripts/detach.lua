-- First half of regenerate: atomically reads and deletes the old session, so the old id is
-- dead before the new one exists and in-flight commits on the old id become no-ops.
-- (The new id hashes to another Cluster slot, so create.lua under the new key is a second
-- call; if it never happens the user simply has no session: fails safe, never fixates.)
-- KEYS[1]  old session hash (see load.lua for the field layout).
-- ARGV[1]  near-cache invalidation channel, or '': the deletion publishes "<hash tag>" there, so
--          every instance drops its copy of the old id.
-- Returns  0   no live session (missing, not a hash, pending); -1 absolute lifetime over (deleted);
--          otherwise the flat HGETALL array of the deleted session.
local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' then
  return 0
end
local m = redis.call('HMGET', key, 'm:a', 'm:p')
local abs = tonumber(m[1])
if not abs or m[2] then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fields = redis.call('HGETALL', key)
redis.call('DEL', key)
if ARGV[1] and ARGV[1] ~= '' then
  redis.call('PUBLISH', ARGV[1], string.match(key, '{([^{}]*)}$'))
end
if abs <= now then
  return -1
end
return fields
