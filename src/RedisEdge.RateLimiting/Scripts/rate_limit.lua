--[[
rate_limit.lua - checks every policy that applies to one request, all-or-nothing.

Two phases: every policy is evaluated without writing anything; then, only when no
enforced policy rejects, every policy that accepted is committed. A rejection therefore
consumes nothing from any policy. All times come from the Redis server clock (TIME), so
the whole fleet agrees whatever the application clocks say.

KEYS[i]   state key of policy i (one key per policy). On Redis Cluster all keys of one call
          must share a hash tag; the caller guarantees that.

ARGV[1]   n, the number of policies (= #KEYS).
ARGV[2 + (i-1)*8 .. 9 + (i-1)*8]   eight values for policy i:
          alg     1 fixed window, 2 sliding window log, 3 sliding window counter,
                  4 token bucket, 5 GCRA (meter when p2 = 0, queue when p2 > 0),
                  6 concurrency
          shadow  1 = shadow mode (reported, never rejects), 0 = enforce
          limit   permits per window / bucket capacity / requests per period / max in flight
          period  window or period in ms (unused by concurrency)
          cost    permits this request takes (>= 1)
          p1      token bucket: tokens added per period; GCRA: burst (0 = limit);
                  concurrency: lease time-to-live in ms
          p2      GCRA: maximum queue delay in ms (0 = meter); otherwise unused
          p3      concurrency: lease id (unique per request); sliding log: request token when
                  the request spans cluster slots (members are then `token:1..cost`, so
                  rate_limit_refund.lua can remove exactly them), empty otherwise

Returns   { allowed, s1, r1, t1, a1, d1, s2, r2, ..., now } - allowed is 1 when the request
          may proceed (and every accepting policy was consumed), 0 when it is rejected
          (and nothing was consumed). Then five integers per policy:
          s  status: 1 accepted, 0 rejected, 2 shadow-rejected (would reject, did not)
          r  remaining permits after this request (before it, when nothing was consumed)
          t  ms until the quota is fully reset (ceil)
          a  retry-after in ms (ceil) when s is 0 or 2: the earliest moment the same request
             would be accepted if nobody else consumed meanwhile; -1 = never (cost > limit);
             for concurrency it is when the oldest blocking lease expires (an upper bound)
          d  queue delay in ms (GCRA queue) the caller must wait before proceeding
          The last element is the server time of the decision (whole ms), which a refund needs
          to find the window it committed to.

A cost of any size is written in batches of 1,000 members, so a large cost (5,000 on a limit of
100,000, say) commits like a cost of 1.

Keys whose type is wrong (corrupted or foreign data) are treated as empty and replaced on
commit. Memory: a sliding log holds at most `limit` members, a concurrency key at most
`limit` leases; every key expires once its state no longer matters.
]]

if redis.replicate_commands then redis.replicate_commands() end

local EPS = 1e-6
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000 -- ms, microsecond precision

local function ms(x) return string.format('%.3f', x) end
local function int(x) return string.format('%d', x) end
local function ceil_ms(x) if x <= 0 then return 0 end return math.ceil(x - EPS) end

-- true when the key holds `want`; a key of another type is reported so commit replaces it
local function inspect(key, want)
  local t = redis.call('TYPE', key).ok
  if t == want then return true, false end
  return false, t ~= 'none'
end

local function wipe(key, wrong) if wrong then redis.call('DEL', key) end end

-- ZADD of `count` members in batches: Lua 5.1 cannot unpack more than about 8,000 values, and a
-- failure there would come after earlier policies were committed (breaking all-or-nothing).
local BATCH = 1000
local function zadd_many(key, count, score, member)
  local args = {}
  for i = 1, count do
    args[#args + 1] = score(i)
    args[#args + 1] = member(i)
    if #args >= 2 * BATCH then
      redis.call('ZADD', key, unpack(args))
      args = {}
    end
  end
  if #args > 0 then redis.call('ZADD', key, unpack(args)) end
end

-- Each algorithm returns a table:
--   ok, remaining (after consuming), now_remaining (if nothing consumed), reset, retry, delay, commit()

local function fixed_window(key, limit, period, cost)
  local win = math.floor(now / period)
  local win_end = (win + 1) * period
  local count = 0
  local present, wrong = inspect(key, 'hash')
  if present then
    local v = redis.call('HMGET', key, 'w', 'c')
    if tonumber(v[1]) == win then count = tonumber(v[2]) or 0 end
  end
  local reset = win_end - now
  local r = { now_remaining = math.max(0, limit - count), reset = reset, delay = 0 }
  if count + cost <= limit then
    r.ok = true; r.remaining = limit - count - cost; r.retry = 0
    r.commit = function()
      wipe(key, wrong)
      redis.call('HSET', key, 'w', int(win), 'c', int(count + cost))
      redis.call('PEXPIREAT', key, int(win_end + 1))
    end
  else
    r.ok = false; r.remaining = r.now_remaining
    r.retry = (cost > limit) and -1 or reset
  end
  return r
end

local function sliding_log(key, limit, window, cost, token)
  local count = 0
  local present, wrong = inspect(key, 'zset')
  if present then
    -- Dropping expired entries changes no decision, so it is safe even on rejection.
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ms(now - window))
    count = redis.call('ZCARD', key)
  end
  local r = { now_remaining = math.max(0, limit - count), delay = 0 }
  local oldest = nil
  if count > 0 then oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]) end
  if count + cost <= limit then
    r.ok = true; r.remaining = limit - count - cost; r.retry = 0
    r.reset = (oldest or now) + window - now
    r.commit = function()
      wipe(key, wrong)
      local score = ms(now)
      if token ~= '' then
        -- identifiable, so a refund removes exactly this request's permits
        zadd_many(key, cost, function() return score end, function(i) return token .. ':' .. int(i) end)
      else
        -- count + i is unique among the members alive at this instant
        zadd_many(key, cost, function() return score end, function(i) return score .. ':' .. int(count + i) end)
      end
      redis.call('PEXPIRE', key, int(math.ceil(window) + 1))
    end
  else
    r.ok = false; r.remaining = r.now_remaining
    r.reset = (oldest or now) + window - now
    if cost > limit then
      r.retry = -1
    else
      -- the (count + cost - limit)-th oldest entry has to leave the window
      local k = count + cost - limit
      local s = tonumber(redis.call('ZRANGE', key, k - 1, k - 1, 'WITHSCORES')[2])
      r.retry = s + window - now
    end
  end
  return r
end

local function sliding_counter(key, limit, window, cost)
  local win = math.floor(now / window)
  local elapsed = now - win * window
  local cur, prev = 0, 0
  local present, wrong = inspect(key, 'hash')
  if present then
    local v = redis.call('HMGET', key, 'w', 'c', 'p')
    local w = tonumber(v[1])
    if w == win then
      cur = tonumber(v[2]) or 0; prev = tonumber(v[3]) or 0
    elseif w == win - 1 then
      prev = tonumber(v[2]) or 0
    end
  end
  local est = prev * (window - elapsed) / window + cur
  local r = { now_remaining = math.max(0, math.floor(limit - est + EPS)), reset = window - elapsed, delay = 0 }
  if est + cost <= limit + EPS then
    r.ok = true; r.remaining = math.max(0, math.floor(limit - est - cost + EPS)); r.retry = 0
    r.commit = function()
      wipe(key, wrong)
      redis.call('HSET', key, 'w', int(win), 'c', int(cur + cost), 'p', int(prev))
      -- the current count still weighs on the next window
      redis.call('PEXPIREAT', key, int((win + 2) * window + 1))
    end
  else
    r.ok = false; r.remaining = r.now_remaining
    local room = limit - cur - cost
    if cost > limit then
      r.retry = -1
    elseif room >= 0 and prev > 0 then
      -- prev * (window - elapsed - t) / window <= room, within this window
      r.retry = (window - elapsed) - room * window / prev
    else
      -- next window: prev' = cur, cur' = 0 -> cur * (window - e) / window + cost <= limit
      local wait = 0
      if cur > 0 then wait = math.max(0, window - (limit - cost) * window / cur) end
      r.retry = (window - elapsed) + wait
    end
  end
  return r
end

local function token_bucket(key, capacity, period, cost, per_period)
  local rate = per_period / period -- tokens per ms
  local tokens = capacity
  local present, wrong = inspect(key, 'hash')
  if present then
    local v = redis.call('HMGET', key, 't', 'ts')
    local t, ts = tonumber(v[1]), tonumber(v[2])
    if t and ts then tokens = math.min(capacity, t + math.max(0, now - ts) * rate) end
  end
  local r = { now_remaining = math.floor(tokens + EPS), delay = 0 }
  if tokens + EPS >= cost then
    local left = math.max(0, tokens - cost)
    r.ok = true; r.remaining = math.floor(left + EPS); r.retry = 0
    r.reset = (capacity - left) / rate
    r.commit = function()
      wipe(key, wrong)
      redis.call('HSET', key, 't', string.format('%.17g', left), 'ts', ms(now))
      -- a missing key means a full bucket, so it may vanish once full
      redis.call('PEXPIRE', key, int(math.ceil(r.reset) + 1))
    end
  else
    r.ok = false; r.remaining = r.now_remaining
    r.reset = (capacity - tokens) / rate
    r.retry = (cost > capacity) and -1 or (cost - tokens) / rate
  end
  return r
end

local function gcra(key, limit, period, cost, burst, max_delay)
  if burst <= 0 then burst = limit end
  local interval = period / limit
  local tolerance = burst * interval
  local tat = now
  local present, wrong = inspect(key, 'string')
  if present then
    local v = tonumber(redis.call('GET', key))
    if v and v > now then tat = v end
  end
  local new_tat = tat + cost * interval
  local wait = new_tat - tolerance - now
  local r = { now_remaining = math.max(0, math.floor((now + tolerance - tat) / interval + EPS)) }
  if wait <= EPS or wait <= max_delay + EPS then
    r.ok = true; r.retry = 0
    r.delay = math.max(0, wait)
    r.remaining = math.max(0, math.floor((now + tolerance - new_tat) / interval + EPS))
    r.reset = new_tat - now
    r.commit = function()
      wipe(key, wrong)
      redis.call('SET', key, ms(new_tat), 'PX', int(math.ceil(new_tat - now) + 1))
    end
  else
    r.ok = false; r.delay = 0; r.remaining = r.now_remaining
    r.reset = tat - now
    if (cost - burst) * interval > max_delay + EPS then
      r.retry = -1
    else
      r.retry = wait - max_delay
    end
  end
  return r
end

local function concurrency(key, limit, cost, ttl, lease)
  local count = 0
  local present, wrong = inspect(key, 'zset')
  if present then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ms(now))
    count = redis.call('ZCARD', key)
  end
  local r = { now_remaining = math.max(0, limit - count), reset = 0, delay = 0 }
  if count + cost <= limit then
    r.ok = true; r.remaining = limit - count - cost; r.retry = 0
    r.commit = function()
      wipe(key, wrong)
      local expiry = ms(now + ttl)
      zadd_many(key, cost, function() return expiry end, function(i) return lease .. ':' .. int(i) end)
      if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, int(math.ceil(ttl) + 1)) end
    end
  else
    r.ok = false; r.remaining = r.now_remaining
    if cost > limit then
      r.retry = -1
    else
      local k = count + cost - limit
      local s = tonumber(redis.call('ZRANGE', key, k - 1, k - 1, 'WITHSCORES')[2])
      r.retry = s - now
    end
  end
  return r
end

local n = tonumber(ARGV[1])
if n == nil or n ~= #KEYS then return redis.error_reply('ERR rate_limit: policy count does not match KEYS') end

local results = {}
local allowed = true
for i = 1, n do
  local b = 1 + (i - 1) * 8
  local alg, shadow = tonumber(ARGV[b + 1]), ARGV[b + 2] == '1'
  local limit, period, cost = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])
  local p1, p2 = tonumber(ARGV[b + 6]) or 0, tonumber(ARGV[b + 7]) or 0
  if not limit or limit <= 0 or not cost or cost < 1 or ((alg ~= 6) and (not period or period <= 0)) then
    return redis.error_reply('ERR rate_limit: invalid arguments for policy ' .. i)
  end
  local key = KEYS[i]
  local r
  if alg == 1 then r = fixed_window(key, limit, period, cost)
  elseif alg == 2 then r = sliding_log(key, limit, period, cost, ARGV[b + 8] or '')
  elseif alg == 3 then r = sliding_counter(key, limit, period, cost)
  elseif alg == 4 then r = token_bucket(key, limit, period, cost, (p1 > 0) and p1 or limit)
  elseif alg == 5 then r = gcra(key, limit, period, cost, p1, p2)
  elseif alg == 6 then r = concurrency(key, limit, cost, (p1 > 0) and p1 or 60000, ARGV[b + 8])
  else return redis.error_reply('ERR rate_limit: unknown algorithm ' .. tostring(alg)) end
  r.shadow = shadow
  if not r.ok and not shadow then allowed = false end
  results[i] = r
end

local reply = { allowed and 1 or 0 }
for i = 1, n do
  local r = results[i]
  local status
  if r.ok then status = 1 elseif r.shadow then status = 2 else status = 0 end
  if allowed and r.ok then r.commit() end
  local remaining = (allowed and r.ok) and r.remaining or r.now_remaining
  local retry = r.retry
  if retry > 0 then retry = ceil_ms(retry) elseif retry ~= -1 then retry = 0 end
  reply[#reply + 1] = status
  reply[#reply + 1] = math.floor(remaining)
  reply[#reply + 1] = ceil_ms(r.reset)
  reply[#reply + 1] = retry
  reply[#reply + 1] = (allowed and r.ok) and ceil_ms(r.delay) or 0
end
reply[#reply + 1] = math.floor(now)
return reply
