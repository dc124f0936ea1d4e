--[[
abandon.lua - gives up a fill lease without storing (the response was not cacheable, the
origin failed, the request was aborted), so waiting requests stop waiting.

KEYS[1]   entry hash.
ARGV[1]   owner token of the lease.
ARGV[2]   pass duration in ms: for this long, lookups answer "pass" and nobody takes a lease,
          so requests go to the origin in parallel instead of queueing behind one lease at
          a time for a response that will not be stored; when a stale-if-error copy is kept, they
          are served that copy instead (fail-safe), and one request retries the origin after it.
          0 = no pass marker.
ARGV[3]   pub/sub channel; the entry key is published to wake waiting requests.
ARGV[4]   '1' = the origin answered definitively (a status, no-store, a body too large to store): the
          stored response is removed with the lease. Otherwise (the origin failed) it is kept for
          stale-if-error.

Returns   1 when the lease was released, 0 when this request no longer held it.
]]

local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' or redis.call('HGET', key, 'l') ~= ARGV[1] then
  return 0
end

local pass_ms = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[4] ~= '1' and redis.call('HEXISTS', key, 's') == 1 then
  redis.call('HDEL', key, 'l', 'lx', 'lg', 'lt')
  if pass_ms > 0 then
    redis.call('HSET', key, 'p', now + pass_ms)
    if redis.call('PTTL', key) < pass_ms then redis.call('PEXPIRE', key, pass_ms) end
  end
else
  redis.call('DEL', key)
  if pass_ms > 0 then
    redis.call('HSET', key, 'p', now + pass_ms)
    redis.call('PEXPIRE', key, pass_ms)
  end
end

redis.call('PUBLISH', ARGV[3], key)
return 1
