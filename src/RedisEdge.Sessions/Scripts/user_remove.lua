-- Removes session tags from a user's index (after logout or when found dead).
-- KEYS[1]  user index (see user_bind.lua).
-- ARGV     session tags to remove (at least one).
-- Returns  the number of members removed.
return redis.call('ZREM', KEYS[1], unpack(ARGV))
