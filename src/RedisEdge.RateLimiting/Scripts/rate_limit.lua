--[[
rate_limit.lua - checks every policy that applies to one request (or to a batch of identical
requests coalesced by one instance), all-or-nothing per request.

Two phases: every policy is evaluated without writing anything; then the requests that every
enforced policy accepts are committed to every policy that accepted them. A rejected request
therefore consumes nothing from any policy. All times come from the Redis server clock (TIME),
so the whole fleet agrees whatever the application clocks say.

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
          cost    permits each request takes (>= 1)
          p1      token bucket: tokens added per period; GCRA: burst (0 = limit);
                  concurrency: lease time-to-live in ms
          p2      GCRA: maximum queue delay in ms (0 = meter); otherwise unused
          p3      concurrency: lease id (unique per request); sliding log: request token when
                  the request spans cluster slots (members are then `token:1..cost`, so
                  rate_limit_refund.lua can remove exactly them), empty otherwise
ARGV[2 + n*8]  m, optional (default 1): how many identical requests this call decides, in
          order (hot-partition coalescing). Requests 1..k are admitted where k is the longest
          prefix every enforced policy accepts; the rest consume nothing. m > 1 is refused for
          concurrency, a GCRA queue and a sliding log token (each needs per-request state).

Returns   { k, x1, r1, t1, a1, d1, x2, r2, ..., now } - k is the number of requests admitted
          (for m = 1: 1 when the request may proceed and every accepting policy was consumed,
          0 when it is rejected and nothing was consumed). Then five integers per policy:
          x  how many of the m requests this policy accepts, counted from the first (for a
             shadow policy: would accept; it never rejects). The policy committed min(x, k).
          r  remaining permits after its min(x, k) committed requests
          t  the effective window (ms, ceil) of r, after those requests: the time during which no
             more than r may be used, i.e. until one more permit becomes available (the RateLimit
             field's t, draft-ietf-httpapi-ratelimit-headers-11): fixed window, its end; sliding
             log, when the oldest permit leaves; sliding counter, when the previous (then the
             current) window's weight has decayed by one more permit; token bucket and GCRA, when
             the next token / emission interval comes back (one interval when full); 0 for
             concurrency
          a  retry-after in ms (ceil) for the next request this policy refuses (x < m and the
             policy is what stopped the batch, or shadow): the earliest moment it would be
             accepted if nobody else consumed meanwhile; -1 = never (cost > limit); 0 when the
             policy refuses none of the m; for concurrency, whose slots free when requests end
             (a time no one knows), when the blocking lease expires but at most 1 s
          d  queue delay in ms (GCRA queue) the caller must wait before proceeding
          The last element is the server time of the decision (whole ms), which a refund needs
          to find the window it committed to.
          Request j <= k of a batch therefore had r + (min(x, k) - j) * cost remaining.

A cost of any size is written in batches of 1,000 members, so a large cost (5,000 on a limit of
100,000, say) commits like a cost of 1.

Keys whose type is wrong (corrupted or foreign data) are treated as empty and replaced on
commit: the command that reads the state is called with redis.pcall and its WRONGTYPE error
marks the key, so the hot path needs no TYPE probe. Memory: a sliding log holds at most `limit` members, a concurrency key at most
`limit` leases; every key expires once its state no longer matters.

Cost: this runs once per request (or batch), so it is straight-line code per algorithm selected
by a branch (no closures or per-policy tables created per call), issues only the commands the
decision needs, and writes integers as Lua numbers rather than formatted strings.
]]
if redis.replicate_commands then redis.replicate_commands() end

local n = tonumber(ARGV[1])
if n == nil or n ~= #KEYS then return redis.error_reply('ERR rate_limit: policy count does not match KEYS') end
-- Small integers are compared as strings before tonumber (which costs about 0.1 us a call in
-- Redis' Lua): the common 0 and 1 cost no conversion.
local m = ARGV[2 + n * 8]
if m == nil or m == '1' then m = 1 else m = tonumber(m) end
if m == nil or m < 1 or m ~= math.floor(m) then return redis.error_reply('ERR rate_limit: invalid request count') end

local EPS = 1e-6
local floor, ceil, fmt = math.floor, math.ceil, string.format
local call, pcall_ = redis.call, redis.pcall
local time = call('TIME')
local now = tonumber(time[1]) * 1000 + floor(tonumber(time[2]) / 1000) -- whole ms, as every RedisEdge script

-- One enforced fixed window, the most common call: the decision of the general path below in the
-- fewest commands (in redis-benchmark, about 0.64-0.78x the general path's time in Redis).
-- A fixed window's state is a hash whose field c counts the current window, and the window is the
-- key's life: the key expires on the window's last millisecond, so a key that exists counts the
-- current window and a new window reads nothing. The permits are added first and what did not fit
-- is taken back, so an admitted request costs one write.
if n == 1 and ARGV[2] == '1' and ARGV[3] == '0' then
  local limit, period, cost = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
  if cost == '1' then cost = 1 else cost = tonumber(cost) end
  if not limit or limit <= 0 or not cost or cost < 1 or not period or period <= 0 then
    return redis.error_reply('ERR rate_limit: invalid arguments for policy 1')
  end
  local key = KEYS[1]
  local stop = (floor(now / period) + 1) * period
  local want = m * cost
  local after = pcall_('HINCRBY', key, 'c', want)
  if type(after) == 'table' then -- a key of another type, or a count that is not an integer: empty
    call('DEL', key)
    after = call('HINCRBY', key, 'c', want)
  end
  local before = after - want
  local x = 0
  if before < limit then
    x = floor((limit - before) / cost)
    if x > m then x = m end
  end
  local count = before + x * cost
  local retry = 0
  if count == 0 then
    call('DEL', key) -- nothing fitted in a new window: no key, as before the call
  elseif count < after then
    call('HINCRBY', key, 'c', count - after)
  end
  if before == 0 then
    if count > 0 then call('PEXPIREAT', key, stop - 1) end
  elseif x < m and call('PTTL', key) == -1 then
    call('PEXPIREAT', key, stop - 1) -- a count no RedisEdge script wrote (it had no expiry) ends with this window
  end
  if x < m then retry = (cost > limit) and -1 or (stop - now) end
  local remaining = limit - count
  if remaining < 0 then remaining = 0 end
  return { x, x, remaining, stop - now, retry, 0, now }
end

-- Phase 1: read every policy's state, write nothing. st holds, per policy (stride 11): alg,
-- wrong type, x (requests accepted), up to five values of state and parameters the reply and the
-- commit need, then limit, period and cost (each argument is parsed once).
-- Allocation is most of this script's own cost in Redis (a table grown key by key rehashes at
-- each power of two, and Lua's collector runs in step with what is allocated): st and the reply
-- are built at their final size for the common single policy, and no closure is made per call.
local st
if n == 1 then st = { 0, false, 0, 0, 0, false, false, 0, 0, 0, 0 } else st = {} end
local k = m
for i = 1, n do
  local b = 1 + (i - 1) * 8
  local alg, cost, p1 = ARGV[b + 1], ARGV[b + 5], ARGV[b + 6]
  if alg == '1' then alg = 1 elseif alg == '4' then alg = 4 elseif alg == '5' then alg = 5 else alg = tonumber(alg) end
  if cost == '1' then cost = 1 else cost = tonumber(cost) end
  if p1 == '0' then p1 = 0 else p1 = tonumber(p1) or 0 end
  local limit, period = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  if not limit or limit <= 0 or not cost or cost < 1 or ((alg ~= 6) and (not period or period <= 0)) then
    return redis.error_reply('ERR rate_limit: invalid arguments for policy ' .. i)
  end
  local key = KEYS[i]
  local o = (i - 1) * 11
  local wrong = false
  local room, unit = 0, 1 -- the requests of this policy's cost that fit: floor(room / unit), between 0 and m

  if alg == 1 then -- fixed window (the key's life is the window, as above): st = count, key exists
    local count = 0
    local v = pcall_('HGET', key, 'c')
    if type(v) == 'table' then wrong = true elseif v then count = tonumber(v) or 0; st[o + 6] = true end
    room, unit = limit - count, cost
    st[o + 5] = count

  elseif alg == 2 then -- sliding window log: st = count, oldest score
    if m > 1 and (ARGV[b + 8] or '') ~= '' then return redis.error_reply('ERR rate_limit: a token needs m = 1') end
    local count = 0
    -- Dropping expired entries changes no decision, so it is safe even on rejection.
    local c = pcall_('ZREMRANGEBYSCORE', key, '-inf', fmt('%.3f', now - period))
    if type(c) == 'table' then wrong = true else count = call('ZCARD', key) end
    local oldest = now
    if count > 0 then oldest = tonumber(call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]) end
    room, unit = limit - count, cost
    st[o + 4] = count; st[o + 5] = oldest

  elseif alg == 3 then -- sliding window counter: st = win, cur, prev, same window, estimate
    local win = floor(now / period)
    local elapsed = now - win * period
    local cur, prev = 0, 0
    local v = pcall_('HMGET', key, 'w', 'c', 'p')
    if v.err then
      wrong = true
    else
      local w = tonumber(v[1])
      if w == win then
        cur = tonumber(v[2]) or 0; prev = tonumber(v[3]) or 0; st[o + 7] = true
      elseif w == win - 1 then
        prev = tonumber(v[2]) or 0
      end
    end
    local est = prev * (period - elapsed) / period + cur
    room, unit = limit - est + EPS, cost
    st[o + 4] = win; st[o + 5] = cur; st[o + 6] = prev; st[o + 8] = est

  elseif alg == 4 then -- token bucket: st = tokens, rate
    -- The state is one number: the server time (ms) at which the bucket is full again. Tokens
    -- then are limit - (full - now) * rate, so one GET reads the bucket and one SET writes it.
    local rate = ((p1 > 0) and p1 or limit) / period -- tokens per ms
    local tokens = limit
    local v = pcall_('GET', key)
    if type(v) == 'table' then
      wrong = true
    else
      v = tonumber(v)
      if v and v > now then
        tokens = limit - (v - now) * rate
        if tokens < 0 then tokens = 0 end
      end
    end
    room, unit = tokens + EPS, cost
    st[o + 4] = tokens; st[o + 5] = rate

  elseif alg == 5 then -- GCRA (meter when p2 = 0, queue when p2 > 0): st = theoretical arrival time, burst, max delay
    local max_delay = ARGV[b + 7]
    if max_delay == '0' then max_delay = 0 else max_delay = tonumber(max_delay) or 0 end
    if m > 1 and max_delay > 0 then return redis.error_reply('ERR rate_limit: a GCRA queue needs m = 1') end
    local burst = (p1 > 0) and p1 or limit
    local interval = period / limit
    local tat = now
    local v = pcall_('GET', key)
    if type(v) == 'table' then
      wrong = true
    else
      v = tonumber(v)
      if v and v > now then tat = v end
    end
    -- request j waits tat + j * cost * interval - burst * interval - now; it is accepted while
    -- that is at most max_delay
    room, unit = now + burst * interval + max_delay + EPS - tat, cost * interval
    st[o + 4] = tat; st[o + 5] = burst; st[o + 6] = max_delay

  elseif alg == 6 then -- concurrency: st = count, lease time-to-live
    if m > 1 then return redis.error_reply('ERR rate_limit: concurrency needs m = 1') end
    local count = 0
    local c = pcall_('ZREMRANGEBYSCORE', key, '-inf', fmt('%.3f', now))
    if type(c) == 'table' then wrong = true else count = call('ZCARD', key) end
    room, unit = limit - count, cost
    st[o + 4] = count; st[o + 5] = p1

  else
    return redis.error_reply('ERR rate_limit: unknown algorithm ' .. tostring(alg))
  end

  local x = floor(room / unit)
  if x < 0 then x = 0 elseif x > m then x = m end
  st[o + 1] = alg; st[o + 2] = wrong; st[o + 3] = x
  st[o + 9] = limit; st[o + 10] = period; st[o + 11] = cost
  if x < k and ARGV[b + 2] ~= '1' then k = x end
end

-- Phase 2: per policy, the state after its committed requests (q = min(x, k), none when k = 0),
-- the reply, and the commit.
local reply
if n == 1 then reply = { k, 0, 0, 0, 0, 0, 0 } else reply = { k } end
for i = 1, n do
  local b = 1 + (i - 1) * 8
  local o = (i - 1) * 11
  local key = KEYS[i]
  local alg, x = st[o + 1], st[o + 3]
  local limit, period, cost = st[o + 9], st[o + 10], st[o + 11]
  local q = (x < k) and x or k
  local used = q * cost
  -- a retry is reported for the first request this policy refuses, when it refuses one that the
  -- others did not (it is what stopped the batch, or it is a shadow policy)
  local refuses = (x == q) and (x < m)
  local remaining, reset, retry, delay = 0, 0, 0, 0
  if used > 0 and st[o + 2] and alg ~= 4 and alg ~= 5 then call('DEL', key) end -- SET (token bucket, GCRA) replaces any type itself

  if alg == 1 then
    local stop = (floor(now / period) + 1) * period
    local count = st[o + 5] + used
    reset = stop - now
    remaining = limit - count
    if refuses then retry = (cost > limit) and -1 or reset end
    if used > 0 then
      call('HSET', key, 'c', count)
      -- a key that exists already expires at the window's end (HSET keeps the expiry)
      if not st[o + 6] then call('PEXPIREAT', key, stop - 1) end
    elseif refuses and st[o + 6] and call('PTTL', key) == -1 then
      call('PEXPIREAT', key, stop - 1) -- a count no RedisEdge script wrote ends with this window
    end

  elseif alg == 2 then
    local old = st[o + 4]
    local count = old + used
    remaining = limit - count
    reset = st[o + 5] + period - now
    if refuses then
      if cost > limit then
        retry = -1
      else
        -- the (count + cost - limit)-th oldest entry has to leave the window; past the old
        -- entries it is one written now
        local nth = count + cost - limit
        if nth <= old then
          retry = tonumber(call('ZRANGE', key, nth - 1, nth - 1, 'WITHSCORES')[2]) + period - now
        else
          retry = period
        end
      end
    end
    if used > 0 then
      local score = fmt('%.3f', now)
      local token = ARGV[b + 8] or ''
      local prefix, base
      if token ~= '' then
        -- identifiable, so a refund removes exactly this request's permits
        prefix, base = token .. ':', 0
      else
        -- old + j is usually free at this instant, but not always: a cross-slot refund in the
        -- same millisecond removes a member and lowers the count, so ZADD NX and count what was
        -- added (a member written twice would be one permit for two admitted requests)
        prefix, base = score .. ':', old
      end
      local added = 0
      if used == 1 then
        added = call('ZADD', key, 'NX', score, prefix .. (base + 1))
      else
        -- in batches: Lua 5.1 cannot unpack more than about 8,000 values, and a failure there
        -- would come after earlier policies were committed (breaking all-or-nothing)
        local args, a = {}, 0
        for j = 1, used do
          args[a + 1] = score; args[a + 2] = prefix .. fmt('%d', base + j); a = a + 2
          if a >= 2000 then added = added + call('ZADD', key, 'NX', unpack(args)); args = {}; a = 0 end
        end
        if a > 0 then added = added + call('ZADD', key, 'NX', unpack(args)) end
      end
      local j = base + used
      while added < used do
        j = j + 1
        added = added + call('ZADD', key, 'NX', score, prefix .. fmt('%d', j))
      end
      call('PEXPIRE', key, ceil(period) + 1)
    end

  elseif alg == 3 then
    local win, cur, prev, est = st[o + 4], st[o + 5] + used, st[o + 6], st[o + 8] + used
    local elapsed = now - win * period
    remaining = floor(limit - est + EPS)
    if remaining < 0 then remaining = 0 end
    -- one more permit once the estimate falls to target: first the previous window's weight
    -- decays (prev / period per ms), then, in the next window, the current one's
    local left = period - elapsed
    local target = limit - remaining - 1 + EPS
    local need = est - target
    if target < 0 or need <= 0 then
      reset = left
    elseif prev > 0 and need * period / prev <= left then
      reset = need * period / prev
    elseif cur > target then
      reset = left + period * (cur - target) / cur
    else
      reset = left
    end
    if refuses then
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
    if used > 0 then
      call('HSET', key, 'w', win, 'c', cur, 'p', prev)
      -- the current count still weighs on the next window; a key already in this window
      -- already has that expiry (HSET keeps it)
      if not st[o + 7] then call('PEXPIREAT', key, (win + 2) * period + 1) end
    end

  elseif alg == 4 then
    local rate = st[o + 5]
    local left = st[o + 4] - used
    if left < 0 then left = 0 end
    remaining = floor(left + EPS)
    reset = (remaining + 1 - left) / rate -- the next token
    if refuses then retry = (cost > limit) and -1 or (cost - left) / rate end
    -- numbers go to Redis at full precision (%.17g), no string formatting here; a missing key
    -- means a full bucket, so the key expires when the bucket is full
    if used > 0 then
      local full = (limit - left) / rate
      call('SET', key, now + full, 'PX', ceil(full) + 1)
    end

  elseif alg == 5 then
    local burst, max_delay = st[o + 5], st[o + 6]
    local interval = period / limit
    local tolerance = burst * interval
    local tat = st[o + 4] + used * interval
    local room = (now + tolerance - tat) / interval
    remaining = floor(room + EPS)
    if remaining < 0 then remaining = 0 end
    reset = (remaining + 1 - room) * interval -- the next emission interval
    if used > 0 then
      local wait = tat - tolerance - now
      if wait > 0 then delay = wait end
    end
    if refuses then
      if (cost - burst) * interval > max_delay + EPS then
        retry = -1
      else
        retry = tat + cost * interval - tolerance - now - max_delay
      end
    end
    if used > 0 then call('SET', key, tat, 'PX', ceil(tat - now) + 1) end

  else -- 6 concurrency (m = 1)
    local old = st[o + 4]
    local count = old + used
    remaining = limit - count
    if refuses then
      if cost > limit then
        retry = -1
      else
        local nth = count + cost - limit
        retry = tonumber(call('ZRANGE', key, nth - 1, nth - 1, 'WITHSCORES')[2]) - now
        if retry > 1000 then retry = 1000 end
      end
    end
    if used > 0 then
      local p1 = st[o + 5]
      local ttl = (p1 > 0) and p1 or 60000
      local score = fmt('%.3f', now + ttl)
      local prefix = ARGV[b + 8] .. ':'
      if used == 1 then
        call('ZADD', key, score, prefix .. '1')
      else
        local args, a = {}, 0
        for j = 1, used do
          args[a + 1] = score; args[a + 2] = prefix .. fmt('%d', j); a = a + 2
          if a >= 2000 then call('ZADD', key, unpack(args)); args = {}; a = 0 end
        end
        if a > 0 then call('ZADD', key, unpack(args)) end
      end
      if call('PTTL', key) < ttl then call('PEXPIRE', key, ceil(ttl) + 1) end
    end
  end

  local r = 2 + (i - 1) * 5
  reply[r] = x
  if remaining < 0 then remaining = 0 end
  reply[r + 1] = floor(remaining)
  reply[r + 2] = (reset > 0) and ceil(reset - EPS) or 0
  if retry > 0 then retry = ceil(retry - EPS) elseif retry ~= -1 then retry = 0 end
  reply[r + 3] = retry
  reply[r + 4] = (delay > 0) and ceil(delay - EPS) or 0
end
reply[2 + n * 5] = floor(now)
return reply
