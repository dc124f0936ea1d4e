-- Takes every session out of a user's index ("log out everywhere").
-- KEYS[1]  user index (see user_bind.lua).
-- ARGV[1]  a session tag to keep ("everywhere else"), or ''.
-- Returns  the array of removed session tags; the caller destroys each session (other slots).
local key = KEYS[1]
local members = redis.call('ZRANGE', key, 0, -1)
local removed = {}
for i = 1, #members do
  if members[i] ~= ARGV[1] then
    removed[#removed + 1] = members[i]
    redis.call('ZREM', key, members[i])
  end
end
return removed
