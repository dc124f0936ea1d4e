-- Lists the sessions in a user's index, pruning those past their absolute expiry.
-- KEYS[1]  user index (see user_bind.lua).
-- Returns  flat array { session tag, absolute expiry ms, ... }, oldest first. Members may
--          still name sessions that ended early (idle timeout, logout); callers confirm each
--          with peek.lua and drop the dead ones with user_remove.lua.
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
return redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
