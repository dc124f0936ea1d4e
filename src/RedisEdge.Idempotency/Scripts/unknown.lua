--[[
unknown.lua - marks the record of an execution whose handler ran but whose response could not be stored (complete.lua
kept failing for the whole settlement budget): the key must not become runnable again when the lease runs out, so
claims answer "outcome unknown" until the record expires with the retention or an operator deletes the key.

KEYS[1]   the record (see claim.lua)
ARGV[1]   owner token of this execution
ARGV[2]   retention in milliseconds (time-to-live of the marked record)

Returns   1 when marked (or already marked by this execution); 0 when this execution no longer owns the in-flight
          record (taken over, completed, released or gone): nothing is changed.
]]

local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' then
  return 0
end

local record = redis.call('HMGET', key, 'own', 'st')
if record[1] ~= ARGV[1] then
  return 0
end

if record[2] == 'u' then
  return 1
end

if record[2] ~= 'r' then
  return 0
end

-- HDEL first, deliberately: it frees a field, and once a script has written Redis lets its later writes through even
-- out of memory under noeviction. The marker then lands when Redis refuses the response itself (complete.lua's first
-- write is HSET, which is refused), and it never grows the record: it replaces 'r' with 'u' after dropping 'exp'.
redis.call('HDEL', key, 'exp')
redis.call('HSET', key, 'st', 'u')
redis.call('PEXPIRE', key, tonumber(ARGV[2]))
return 1
