-- Removes session tags from a user's index (after logout, revoke or eviction destroyed them, or
-- when they were found gone).
-- KEYS[1]  user index (see user_bind.lua).
-- ARGV     session tags to remove (at least one).
-- Returns  the number of members removed.
local removed = 0
for i = 1, #ARGV do
  removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
end
return removed
