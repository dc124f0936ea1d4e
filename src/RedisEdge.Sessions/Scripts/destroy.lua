-- Destroys a session (logout, revoke). Deleting the hash makes every later load on any
-- instance miss and every in-flight commit a no-op.
-- KEYS[1]  session hash (see load.lua for the field layout).
-- ARGV[1]  user tag the session must belong to ('' = any owner, for logout). A session bound to
--          another user, or to no user, is left alone: a revoke through a user reaches only that
--          user's sessions (binding writes "m:u" before the session enters the user's index).
-- ARGV[2]  near-cache invalidation channel, or '': a deletion publishes "<hash tag>" there, so every
--          instance drops its copy.
-- Returns  { 1, user tag or '' }  when the session was deleted (the caller removes it from
--          that user's index, a key in another slot);
--          { 0, '' }  when there was nothing to delete or the owner did not match.
local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' then
  return { 0, '' }
end
local user = redis.call('HGET', key, 'm:u') or ''
if ARGV[1] ~= '' and ARGV[1] ~= user then
  return { 0, '' }
end
redis.call('DEL', key)
if ARGV[2] and ARGV[2] ~= '' then
  redis.call('PUBLISH', ARGV[2], string.match(key, '{([^{}]*)}$'))
end
return { 1, user }
