--[[
release_lease.lua - releases the concurrency leases one request took.

KEYS[i]   lease sorted set of concurrency policy i (same keys, same hash tag, as rate_limit.lua).
ARGV[1]   lease id the request used in rate_limit.lua.
ARGV[1+i] cost the request took from policy i (number of lease members lease:1..lease:cost).

Releasing twice is harmless (the second call removes nothing), so a caller that does not know
whether rate_limit.lua ran (a timeout, an aborted request) may release anyway.

Returns   number of lease members removed (0 when they had already expired and been purged).
          Expired leases of other requests are purged on the way (server clock), so a key
          never keeps the leases of a killed instance beyond their time-to-live.
]]

if redis.replicate_commands then redis.replicate_commands() end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) -- whole ms, as every RedisEdge script
local lease = ARGV[1]
local removed = 0
for i = 1, #KEYS do
  local key = KEYS[i]
  if redis.call('TYPE', key).ok == 'zset' then
    -- in batches: Lua 5.1 cannot unpack more than about 8,000 values
    local members = {}
    for j = 1, (tonumber(ARGV[1 + i]) or 1) do
      members[#members + 1] = lease .. ':' .. string.format('%d', j)
      if #members >= 1000 then
        removed = removed + redis.call('ZREM', key, unpack(members))
        members = {}
      end
    end
    if #members > 0 then removed = removed + redis.call('ZREM', key, unpack(members)) end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.3f', now))
  end
end
return removed
