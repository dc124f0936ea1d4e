--[[
renew.lua - extends the lease of the execution that holds the claim, while its handler runs.

KEYS[1]   the record (see claim.lua)
ARGV[1]   owner token of this execution
ARGV[2]   lease in milliseconds, from now (Redis server clock)
ARGV[3]   time-to-live of an in-flight record in milliseconds

Returns   1 when renewed; 0 when this execution no longer owns the record (taken over, completed or gone).
]]

if redis.replicate_commands then redis.replicate_commands() end

local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' then
  return 0
end

local record = redis.call('HMGET', key, 'own', 'st')
if record[1] ~= ARGV[1] or record[2] ~= 'r' then
  return 0
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('HSET', key, 'exp', string.format('%d', now + tonumber(ARGV[2])))
redis.call('PEXPIRE', key, tonumber(ARGV[3]))
return 1
