-- Adds a session to its user's index and enforces the per-user session limit.
-- KEYS[1]  user index: sorted set {prefix}:sessions:{sha256(user id)}:user of session tags
--          (sha256 of the session id, never the id), scored by absolute expiry (ms).
-- ARGV[1]  session tag; ARGV[2] its absolute expiry (ms); ARGV[3] max sessions (0 = no limit).
-- Prunes members whose absolute expiry has passed, adds the session, then while the set is
-- over the limit removes the member with the lowest score (the oldest), never ARGV[1].
-- Returns  the array of evicted session tags; the caller destroys those sessions (their
--          hashes live in other Cluster slots).
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
redis.call('ZADD', key, ARGV[2], ARGV[1])
local evicted = {}
local max = tonumber(ARGV[3])
if max > 0 then
  local over = redis.call('ZCARD', key) - max
  if over > 0 then
    local oldest = redis.call('ZRANGE', key, 0, over)
    for i = 1, #oldest do
      if #evicted < over and oldest[i] ~= ARGV[1] then
        evicted[#evicted + 1] = oldest[i]
        redis.call('ZREM', key, oldest[i])
      end
    end
  end
end
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', key, last[2])
return evicted
