--[[
complete.lua - stores the response of the execution that holds the claim.

KEYS[1]   the record (see claim.lua)
ARGV[1]   owner token of this execution
ARGV[2]   retention in milliseconds (time-to-live of the stored response)
ARGV[3]   status code
ARGV[4]   allow-listed response headers, one "name:value" per line
ARGV[5]   response body bytes

Returns   1 when stored, or already stored by this execution (a retried complete whose earlier attempt timed out
          on the client but ran: nothing is overwritten); 0 when this execution no longer owns the record (its
          lease expired and another execution took over, or the record is gone): a stale instance never
          overwrites another's claim.
]]

local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' then
  return 0
end

local record = redis.call('HMGET', key, 'own', 'st')
if record[1] ~= ARGV[1] then
  return 0
end

if record[2] == 'c' then
  return 1
end

if record[2] ~= 'r' then
  return 0
end

-- The owner stays, so a retry of this call knows its earlier attempt landed.
redis.call('HSET', key, 'st', 'c', 'code', ARGV[3], 'hdr', ARGV[4], 'body', ARGV[5])
redis.call('HDEL', key, 'exp')
redis.call('PEXPIRE', key, tonumber(ARGV[2]))
return 1
