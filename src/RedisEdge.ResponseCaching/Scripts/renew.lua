--[[
renew.lua - extends a fill lease while its origin runs, so the lease can be short: a filler whose instance died
loses it within one lease time, and one waiting request takes over (lookup.lua).

KEYS[1]   entry hash.
ARGV[1]   owner token of the lease.
ARGV[2]   lease time-to-live in ms, from now.

Returns   1 when renewed, 0 when this request no longer holds the lease (evicted, or taken over).
]]

local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' or redis.call('HGET', key, 'l') ~= ARGV[1] then
  return 0
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease_ms = tonumber(ARGV[2])
redis.call('HSET', key, 'lx', now + lease_ms)
if redis.call('PTTL', key) < lease_ms then redis.call('PEXPIRE', key, lease_ms) end
return 1
