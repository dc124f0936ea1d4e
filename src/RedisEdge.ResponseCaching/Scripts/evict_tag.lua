--[[
evict_tag.lua - deletes every entry in a tag set, atomically.

KEYS[1]   tag set (sorted set of entry keys without their shared prefix, see fill.lua). The entries it names share
          its hash tag (one policy, one slot), so deleting them here stays inside the slot
          the script was routed to.
ARGV[1]   pub/sub channel: the deleted entry keys are published in one message, one per
          line, so every instance drops its near-cache copies and waiting requests wake.

Returns   the number of entries deleted. Deleting an entry also deletes any fill lease in
          it, so a fill that started before the eviction is refused (fill.lua is fenced).
A key of another type is deleted and counts as an empty set.
]]

local set = KEYS[1]
local kind = redis.call('TYPE', set).ok
if kind ~= 'zset' then
  if kind ~= 'none' then redis.call('DEL', set) end
  return 0
end

-- Members are entry keys without the prefix they share with the set (see fill.lua).
local base = string.sub(set, 1, string.find(set, '}', 1, true))
local members = redis.call('ZRANGE', set, 0, -1)
local deleted = 0
for i = 1, #members do
  members[i] = base .. members[i]
  deleted = deleted + redis.call('DEL', members[i])
end
redis.call('DEL', set)
if #members > 0 then
  redis.call('PUBLISH', ARGV[1], table.concat(members, '\n'))
end
return deleted
