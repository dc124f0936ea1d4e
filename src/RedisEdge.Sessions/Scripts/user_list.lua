-- Lists one page of a user's index; the first page prunes the sessions past their absolute expiry
-- first (only the first: pruning while a caller pages on would shift the ranks under it).
-- KEYS[1]  user index (see user_bind.lua).
-- ARGV[1]  offset (rank of the first member, 0 = oldest); ARGV[2] page size (> 0). Callers read a
--          long index page by page so no reply and no later call grows with the number of sessions.
-- Returns  flat array { session tag, absolute expiry ms, ... }, oldest first. Members may
--          still name sessions that ended early (idle timeout, logout); callers confirm each
--          with peek.lua and drop the dead ones with user_remove.lua.
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local offset = tonumber(ARGV[1])
if offset == 0 then
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
end
return redis.call('ZRANGE', key, offset, offset + tonumber(ARGV[2]) - 1, 'WITHSCORES')
