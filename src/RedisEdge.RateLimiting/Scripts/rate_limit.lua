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
commit: the command that reads the state is called with redis.pcall and its WRONGTYPE error
marks the key, so the hot path needs no TYPE probe. Memory: a sliding log holds at most `limit` members, a concurrency key at most
`limit` leases; every key expires once its state no longer matters.

Cost: this runs once per request, so it is straight-line code per algorithm selected by a
branch (no closures or per-policy tables created per call), issues only the commands the
decision needs, and writes integers as Lua numbers rather than formatted strings.
]]
if redis.replicate_commands then redis.replicate_commands() end

local n = tonumber(ARGV[1])
if n == nil or n ~= #KEYS then return redis.error_reply('ERR rate_limit: policy count does not match KEYS') end

local EPS = 1e-6
local floor, ceil, fmt = math.floor, math.ceil, string.format
local call, pcall_ = redis.call, redis.pcall
local time = call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000 -- ms, microsecond precision

-- Phase 1: decide every policy, write nothing. The reply is filled as we go with the values of
-- a request that consumes nothing; phase 2 corrects them for the policies it commits.
-- st holds, per policy (stride 8): alg, wrong type, remaining after consuming, queue delay,
-- then up to four values the commit needs (st[o + 8] = the key is already in this window).
local reply = { 1 }
local st = {}
local allowed = true
for i = 1, n do
  local b = 1 + (i - 1) * 8
  local alg = tonumber(ARGV[b + 1])
  local limit, period, cost = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])
  local p1 = tonumber(ARGV[b + 6]) or 0
  if not limit or limit <= 0 or not cost or cost < 1 or ((alg ~= 6) and (not period or period <= 0)) then
    return redis.error_reply('ERR rate_limit: invalid arguments for policy ' .. i)
  end
  local key = KEYS[i]
  local o = (i - 1) * 8
  local ok, wrong = false, false
  local remaining, now_remaining, reset, retry, delay = 0, 0, 0, 0, 0

  if alg == 1 then -- fixed window
    local win = floor(now / period)
    local win_end = (win + 1) * period
    local count = 0
    local v = pcall_('HMGET', key, 'w', 'c')
    local same = false
    if v.err then wrong = true elseif tonumber(v[1]) == win then count = tonumber(v[2]) or 0; same = true end
    reset = win_end - now
    now_remaining = limit - count
    if now_remaining < 0 then now_remaining = 0 end
    if count + cost <= limit then
      ok = true; remaining = limit - count - cost
      st[o + 5] = win; st[o + 6] = count + cost; st[o + 7] = win_end + 1; st[o + 8] = same
    else
      retry = (cost > limit) and -1 or reset
    end

  elseif alg == 2 then -- sliding window log
    local count = 0
    -- Dropping expired entries changes no decision, so it is safe even on rejection.
    local c = pcall_('ZREMRANGEBYSCORE', key, '-inf', fmt('%.3f', now - period))
    if type(c) == 'table' then wrong = true else count = call('ZCARD', key) end
    now_remaining = limit - count
    if now_remaining < 0 then now_remaining = 0 end
    local oldest = now
    if count > 0 then oldest = tonumber(call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]) end
    reset = oldest + period - now
    if count + cost <= limit then
      ok = true; remaining = limit - count - cost
      st[o + 5] = count; st[o + 6] = ARGV[b + 8] or ''
    elseif cost > limit then
      retry = -1
    else
      -- the (count + cost - limit)-th oldest entry has to leave the window
      local k = count + cost - limit
      retry = tonumber(call('ZRANGE', key, k - 1, k - 1, 'WITHSCORES')[2]) + period - now
    end

  elseif alg == 3 then -- sliding window counter
    local win = floor(now / period)
    local elapsed = now - win * period
    local cur, prev = 0, 0
    local v = pcall_('HMGET', key, 'w', 'c', 'p')
    if v.err then
      wrong = true
    else
      local w = tonumber(v[1])
      if w == win then
        cur = tonumber(v[2]) or 0; prev = tonumber(v[3]) or 0; st[o + 8] = true
      elseif w == win - 1 then
        prev = tonumber(v[2]) or 0
      end
    end
    local est = prev * (period - elapsed) / period + cur
    now_remaining = floor(limit - est + EPS)
    if now_remaining < 0 then now_remaining = 0 end
    reset = period - elapsed
    if est + cost <= limit + EPS then
      ok = true
      remaining = floor(limit - est - cost + EPS)
      if remaining < 0 then remaining = 0 end
      st[o + 5] = win; st[o + 6] = cur + cost; st[o + 7] = prev
    else
      local room = limit - cur - cost
      if cost > limit then
        retry = -1
      elseif room >= 0 and prev > 0 then
        -- prev * (period - elapsed - t) / period <= room, within this window
        retry = (period - elapsed) - room * period / prev
      else
        -- next window: prev' = cur, cur' = 0 -> cur * (period - e) / period + cost <= limit
        local wait = 0
        if cur > 0 then
          wait = period - (limit - cost) * period / cur
          if wait < 0 then wait = 0 end
        end
        retry = (period - elapsed) + wait
      end
    end

  elseif alg == 4 then -- token bucket
    local rate = ((p1 > 0) and p1 or limit) / period -- tokens per ms
    local tokens = limit
    local v = pcall_('HMGET', key, 't', 'ts')
    if v.err then
      wrong = true
    else
      local t, ts = tonumber(v[1]), tonumber(v[2])
      if t and ts then
        local gap = now - ts
        if gap < 0 then gap = 0 end
        tokens = t + gap * rate
        if tokens > limit then tokens = limit end
      end
    end
    now_remaining = floor(tokens + EPS)
    if tokens + EPS >= cost then
      local left = tokens - cost
      if left < 0 then left = 0 end
      ok = true; remaining = floor(left + EPS)
      reset = (limit - left) / rate
      st[o + 5] = left; st[o + 6] = reset
    else
      reset = (limit - tokens) / rate
      retry = (cost > limit) and -1 or (cost - tokens) / rate
    end

  elseif alg == 5 then -- GCRA (meter when p2 = 0, queue when p2 > 0)
    local max_delay = tonumber(ARGV[b + 7]) or 0
    local burst = (p1 > 0) and p1 or limit
    local interval = period / limit
    local tolerance = burst * interval
    local tat = now
    local v = pcall_('GET', key)
    if type(v) == 'table' then
      wrong = true
    else
      v = tonumber(v)
      if v and v > now then tat = v end
    end
    local new_tat = tat + cost * interval
    local wait = new_tat - tolerance - now
    now_remaining = floor((now + tolerance - tat) / interval + EPS)
    if now_remaining < 0 then now_remaining = 0 end
    if wait <= EPS or wait <= max_delay + EPS then
      ok = true
      if wait > 0 then delay = wait end
      remaining = floor((now + tolerance - new_tat) / interval + EPS)
      if remaining < 0 then remaining = 0 end
      reset = new_tat - now
      st[o + 5] = new_tat
    else
      reset = tat - now
      if (cost - burst) * interval > max_delay + EPS then retry = -1 else retry = wait - max_delay end
    end

  elseif alg == 6 then -- concurrency
    local count = 0
    local c = pcall_('ZREMRANGEBYSCORE', key, '-inf', fmt('%.3f', now))
    if type(c) == 'table' then wrong = true else count = call('ZCARD', key) end
    now_remaining = limit - count
    if now_remaining < 0 then now_remaining = 0 end
    if count + cost <= limit then
      ok = true; remaining = limit - count - cost
      st[o + 5] = (p1 > 0) and p1 or 60000; st[o + 6] = ARGV[b + 8]
    elseif cost > limit then
      retry = -1
    else
      local k = count + cost - limit
      retry = tonumber(call('ZRANGE', key, k - 1, k - 1, 'WITHSCORES')[2]) - now
    end

  else
    return redis.error_reply('ERR rate_limit: unknown algorithm ' .. tostring(alg))
  end

  local status = 1
  if not ok then
    if ARGV[b + 2] == '1' then status = 2 else status = 0; allowed = false end
  end
  st[o + 1] = alg; st[o + 2] = wrong; st[o + 3] = remaining; st[o + 4] = delay
  local r = 2 + (i - 1) * 5
  reply[r] = status
  reply[r + 1] = floor(now_remaining)
  reply[r + 2] = (reset > 0) and ceil(reset - EPS) or 0
  if retry > 0 then retry = ceil(retry - EPS) elseif retry ~= -1 then retry = 0 end
  reply[r + 3] = retry
  reply[r + 4] = 0
end

-- Phase 2: commit every accepting policy, only when no enforced policy rejected.
if allowed then
  for i = 1, n do
    local r = 2 + (i - 1) * 5
    if reply[r] == 1 then
      local o = (i - 1) * 8
      local key = KEYS[i]
      local alg = st[o + 1]
      if st[o + 2] and alg ~= 5 then call('DEL', key) end -- SET (GCRA) replaces any type itself
      reply[r + 1] = floor(st[o + 3])
      local delay = st[o + 4]
      reply[r + 4] = (delay > 0) and ceil(delay - EPS) or 0
      local cost = tonumber(ARGV[(i - 1) * 8 + 6])
      if alg == 1 then
        call('HSET', key, 'w', st[o + 5], 'c', fmt('%d', st[o + 6]))
        -- a key already in this window already expires at its end (HSET keeps the expiry)
        if not st[o + 8] then call('PEXPIREAT', key, st[o + 7]) end
      elseif alg == 3 then
        call('HSET', key, 'w', st[o + 5], 'c', fmt('%d', st[o + 6]), 'p', fmt('%d', st[o + 7]))
        -- the current count still weighs on the next window; a key already in this window
        -- already has that expiry (HSET keeps it)
        if not st[o + 8] then call('PEXPIREAT', key, (st[o + 5] + 2) * tonumber(ARGV[(i - 1) * 8 + 5]) + 1) end
      elseif alg == 4 then
        call('HSET', key, 't', fmt('%.17g', st[o + 5]), 'ts', fmt('%.3f', now))
        -- a missing key means a full bucket, so it may vanish once full
        call('PEXPIRE', key, ceil(st[o + 6]) + 1)
      elseif alg == 5 then
        local new_tat = st[o + 5]
        call('SET', key, fmt('%.3f', new_tat), 'PX', ceil(new_tat - now) + 1)
      else -- 2 sliding log, 6 concurrency: cost members with one score
        local score, prefix, base
        if alg == 2 then
          score = fmt('%.3f', now)
          local token = st[o + 6]
          if token ~= '' then
            -- identifiable, so a refund removes exactly this request's permits
            prefix, base = token .. ':', 0
          else
            -- count + i is unique among the members alive at this instant
            prefix, base = score .. ':', st[o + 5]
          end
        else
          score = fmt('%.3f', now + st[o + 5])
          prefix, base = st[o + 6] .. ':', 0
        end
        if cost == 1 then
          call('ZADD', key, score, prefix .. fmt('%d', base + 1))
        else
          -- in batches: Lua 5.1 cannot unpack more than about 8,000 values, and a failure there
          -- would come after earlier policies were committed (breaking all-or-nothing)
          local args, m = {}, 0
          for j = 1, cost do
            args[m + 1] = score; args[m + 2] = prefix .. fmt('%d', base + j); m = m + 2
            if m >= 2000 then call('ZADD', key, unpack(args)); args = {}; m = 0 end
          end
          if m > 0 then call('ZADD', key, unpack(args)) end
        end
        if alg == 2 then
          call('PEXPIRE', key, ceil(tonumber(ARGV[(i - 1) * 8 + 5])) + 1)
        else
          local ttl = st[o + 5]
          if call('PTTL', key) < ttl then call('PEXPIRE', key, ceil(ttl) + 1) end
        end
      end
    end
  end
else
  reply[1] = 0
end
reply[#reply + 1] = floor(now)
return reply
