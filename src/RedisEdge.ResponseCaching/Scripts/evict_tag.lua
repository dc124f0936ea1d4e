--[[
evict_tag.lua - one bounded step of evicting a tag or resource set: the first step records the eviction (it fences
every fill whose lease was taken before it, see fill.lua), and each step deletes at most one batch of entries.

KEYS[1]   the set (sorted set of entry keys without their shared prefix, see fill.lua). The entries it names share
          its hash tag (one policy, one slot), so deleting them here stays inside the slot the script was routed to.
KEYS[2]   the set's eviction epoch (a string).
KEYS[3]   the policy's eviction sequence (a string): a clock that never goes back, max(server ms, last + 1).
ARGV[1]   pub/sub channel: the keys deleted by this step are published in one message, one per line, so every
          instance drops its near-cache copies and waiting requests wake.
ARGV[2]   batch size: the most entries one step deletes (bounds the step's time and its message).
ARGV[3]   eviction fence in ms: how long the epoch is kept (fill.lua refuses leases older than this).
ARGV[4]   '1' on the first step: advance the sequence and record it as the set's epoch.

Returns   { deleted, left, key... } - entries deleted by this step, members still in the set (call again while
          left > 0), and the deleted entry keys (the evicting instance drops its own near-cache copies at once).
A key of another type under the set's name is deleted and counts as an empty set.
]]

local set = KEYS[1]
if ARGV[4] == '1' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local last = redis.pcall('GET', KEYS[3])
  last = type(last) == 'string' and tonumber(last) or 0
  local epoch = math.max(now, last + 1)
  redis.call('SET', KEYS[3], epoch)
  redis.call('SET', KEYS[2], epoch, 'PX', tonumber(ARGV[3]))
end

local kind = redis.call('TYPE', set).ok
if kind ~= 'zset' then
  if kind ~= 'none' then redis.call('DEL', set) end
  return { 0, 0 }
end

-- Members are entry keys without the prefix they share with the set (see fill.lua).
local base = string.sub(set, 1, string.find(set, '}', 1, true))
local members = redis.call('ZRANGE', set, 0, tonumber(ARGV[2]) - 1)
local deleted = 0
if #members > 0 then
  redis.call('ZREMRANGEBYRANK', set, 0, #members - 1)
end
for i = 1, #members do
  members[i] = base .. members[i]
  deleted = deleted + redis.call('DEL', members[i])
end
if #members > 0 then
  redis.call('PUBLISH', ARGV[1], table.concat(members, '\n'))
end

local reply = { deleted, redis.call('ZCARD', set) }
for i = 1, #members do reply[i + 2] = members[i] end
return reply
