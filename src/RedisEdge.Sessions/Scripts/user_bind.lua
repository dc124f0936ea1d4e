-- Adds a session to its user's index, picks the sessions the per-user limit evicts, and names a few
-- members that may have idled out, for the caller to check and prune.
-- KEYS[1]  user index: sorted set {prefix}:sessions:{sha256(user id)}:user of session tags
--          (sha256 of the session id, never the id), scored by absolute expiry (ms).
-- ARGV[1]  session tag; ARGV[2] its absolute expiry (ms); ARGV[3] max sessions (0 = no limit).
-- ARGV[4]  idle horizon h (ms) = absolute lifetime - idle timeout: a member scored <= now + h was
--          created at least one idle timeout ago, so it may have idled out (only those are named).
-- ARGV[5]  k, how many such members to name at most (0 = none).
-- ARGV[6]  a random fraction in [0, 1): where the k named members start among the eligible ones, so
--          a few long-lived active sessions cannot hide the dead ones behind them.
-- ARGV[7]  d, the number of dead session tags that follow.
-- ARGV[8 .. 7+d]  members the caller found gone (idled out, destroyed): removed, never counted.
-- ARGV[8+d ..]    the caller's eviction order: the live sessions it found, least recently used first.
-- Prunes members past their absolute expiry and the dead ones, adds the session, then, while the
-- set is over the limit, picks members in the given order (never ARGV[1]). Sessions other requests
-- are still binding (pending, or bound after the caller looked) are never picked: evicting one
-- would fail that login. Concurrent logins can so leave the set over the limit for a moment; the
-- next binding of the user trims it.
-- Picked members stay in the index: the caller destroys each session (other Cluster slots) and
-- only then removes it, so a failure in between never hides a live session from revoke-all.
-- Returns  { picked (evicted) session tags, members that may have idled out (never ARGV[1]) }.
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
local dead = tonumber(ARGV[7])
for i = 8, 7 + dead do
  redis.call('ZREM', key, ARGV[i])
end
redis.call('ZADD', key, ARGV[2], ARGV[1])
local evicted = {}
local picked = {}
local max = tonumber(ARGV[3])
if max > 0 then
  local over = redis.call('ZCARD', key) - max
  for i = 8 + dead, #ARGV do
    if over <= 0 then break end
    if ARGV[i] ~= ARGV[1] and not picked[ARGV[i]] and redis.call('ZSCORE', key, ARGV[i]) then
      picked[ARGV[i]] = true
      evicted[#evicted + 1] = ARGV[i]
      over = over - 1
    end
  end
end
local candidates = {}
local k = tonumber(ARGV[5])
if k > 0 then
  local eligible = redis.call('ZCOUNT', key, '-inf', now + tonumber(ARGV[4]))
  if eligible > 0 then
    local start = math.floor(tonumber(ARGV[6]) * math.max(0, eligible - k + 1))
    local members = redis.call('ZRANGE', key, start, math.min(start + k, eligible) - 1)
    for i = 1, #members do
      if members[i] ~= ARGV[1] then
        candidates[#candidates + 1] = members[i]
      end
    end
  end
end
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', key, last[2])
return { evicted, candidates }
