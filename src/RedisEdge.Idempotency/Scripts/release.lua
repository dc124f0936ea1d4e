--[[
release.lua - frees the key when the execution that holds the claim stores nothing (the handler threw, the
status is not stored, or the body was over the size limit), so the next retry executes.

KEYS[1]   the record (see claim.lua)
ARGV[1]   owner token of this execution

Returns   1 when released; 0 when this execution no longer owns the record (a stale instance never frees
          a key another execution holds or has completed).
]]

local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' then
  return 0
end

local record = redis.call('HMGET', key, 'own', 'st')
if record[1] ~= ARGV[1] or record[2] ~= 'r' then
  return 0
end

redis.call('DEL', key)
return 1
