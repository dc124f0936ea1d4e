--[[
rate_limit_refund.lua - gives back what one rate_limit.lua call committed, for a request whose
policies span cluster slots and that another slot's call rejected (or failed). It is the exact
inverse of that commit, applied to the state as it is now (other requests may have consumed
since), and never gives back more than the request took.

KEYS[1]   refund marker of this request in this slot (same hash tag as the state keys). It is set
          (NX, 60 s) by the first refund, so a second refund of the same request changes nothing.
KEYS[1+i] state key of policy i, exactly as passed to rate_limit.lua.

ARGV[1]   n, the number of policies (= #KEYS - 1).
ARGV[2]   the decision time rate_limit.lua returned (server clock, whole ms): the window it
          committed to (fixed window, sliding counter).
ARGV[3]   the request token: sliding log members and concurrency leases are `token:1..cost`.
ARGV[4 + (i-1)*5 .. 8 + (i-1)*5]   five values for policy i, as given to rate_limit.lua:
          alg, limit, period, cost, p1 (token bucket: tokens per period, 0 = limit)

Per algorithm:
  1 fixed window       count of the committed window minus cost (nothing if the window rolled)
  2 sliding log        ZREM token:1..cost
  3 sliding counter    current count minus cost, or the previous one if the window rolled
  4 token bucket       the time the bucket is full again moved back by cost / rate: cost tokens
                       added back, capped at capacity (a full bucket is no key)
  5 GCRA               theoretical arrival time moved back by cost * interval
  6 concurrency        ZREM of the leases token:1..cost

Returns   1 when this call refunded, 0 when the request had already been refunded.
]]

if redis.replicate_commands then redis.replicate_commands() end

local n = tonumber(ARGV[1])
if n == nil or n ~= #KEYS - 1 then return redis.error_reply('ERR rate_limit_refund: policy count does not match KEYS') end
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', 60000) then return 0 end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) -- whole ms, as every RedisEdge script
local at = tonumber(ARGV[2])
local token = ARGV[3]

local function int(x) return string.format('%d', x) end

local function zrem_many(key, cost)
  if redis.call('TYPE', key).ok ~= 'zset' then return end
  local members = {}
  for j = 1, cost do
    -- in batches: Lua 5.1 cannot unpack more than about 8,000 values
    members[#members + 1] = token .. ':' .. int(j)
    if #members >= 1000 then
      redis.call('ZREM', key, unpack(members))
      members = {}
    end
  end
  if #members > 0 then redis.call('ZREM', key, unpack(members)) end
end

local function decrement(key, field, cost)
  local c = tonumber(redis.call('HGET', key, field)) or 0
  redis.call('HSET', key, field, int(math.max(0, c - cost)))
end

for i = 1, n do
  local key = KEYS[i + 1]
  local b = 3 + (i - 1) * 5
  local alg, limit, period = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local cost, p1 = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5]) or 0
  if alg == 2 or alg == 6 then
    zrem_many(key, cost)
  elseif redis.call('TYPE', key).ok == (alg >= 4 and 'string' or 'hash') then
    if alg == 1 then
      -- the key's life is its window: one that exists counts the current window, so the request's count is
      -- there only if it committed to the current window
      if math.floor(at / period) == math.floor(now / period) then decrement(key, 'c', cost) end
    elseif alg == 3 then
      local w, win = tonumber(redis.call('HGET', key, 'w')), math.floor(at / period)
      if w == win then decrement(key, 'c', cost) elseif w == win + 1 then decrement(key, 'p', cost) end
    else
      -- token bucket: the time the bucket is full again; GCRA: the theoretical arrival time. Both
      -- move back by what the request took (cost / rate = cost * period / tokens per period).
      local per = (alg == 4 and p1 > 0) and p1 or limit
      local at_full = tonumber(redis.call('GET', key))
      if at_full and at_full > now then
        local moved = at_full - cost * period / per
        if moved <= now then
          redis.call('DEL', key)
        else
          redis.call('SET', key, string.format('%.17g', moved), 'PX', int(math.ceil(moved - now) + 1))
        end
      end
    end
  end
end
return 1
