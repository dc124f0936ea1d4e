--[[
lookup.lua - the cache decision for one request, and the fill lease in the same step.

An entry and its fill lease live in one hash, so this script reads one entry key (one slot):
  v           format version of the stored response (a response of another version is not used)
  s h b et    status, serialized headers, body, ETag of the stored response
  c f w x     created, fresh until, stale-while-revalidate until, stale-if-error until (server ms)
  l lx        fill lease: owner token and expiry (server ms); renewed by renew.lua while the origin runs
  lg lt       the policy's eviction sequence when the lease was taken, and when it was taken (server ms):
              fill.lua refuses to store when an eviction of one of the fill's sets came after it
  p           pass marker: until this moment (server ms) nobody takes a lease. Without a stored response,
              requests go to the origin in parallel (the last fill was not storable); with a stale-if-error
              copy, the origin failed: requests are served the copy at once (fail-safe) and the origin is
              retried by one request once the marker ends

KEYS[1]   entry hash.
KEYS[2]   the policy's eviction sequence (a string, see evict_tag.lua); read when a lease is taken.
ARGV[1]   owner token of this request; empty = this request may not fill (HEAD).
ARGV[2]   lease time-to-live in ms.
ARGV[3]   format version this instance reads and writes.
ARGV[4]   '1' = ignore the stored response (the caller found it malformed): a miss, so the next fill replaces it.
ARGV[5]   '1' = this request forwards to the origin if it does not take the lease (HEAD, or its fill wait is over), so
          it needs a stale-if-error copy to fall back on; otherwise a request that would only wait (state 3 without
          the lease) is answered without the entry fields, and the stale body is not sent for nothing.

Returns   { meta [, h, b] } - meta is one string, "state filler now" or, when the reply carries the entry,
          "state filler now s c f w x et" (space-separated, the stored ETag last and possibly empty; a stored field
          that is not what fill.lua writes reaches the caller as it is, which then reads the entry as malformed).
          One bulk string instead of eleven replies: the client allocates a result object per element, and a hit
          is the hot path. h and b are the stored headers and body. The entry fields are present when the hash
          holds a response that is still usable in some window:
          state 0 miss (no usable entry)
                1 fresh hit
                2 stale, within stale-while-revalidate: serve it now
                3 stale, past stale-while-revalidate but within stale-if-error: forward, and
                  serve the entry only if the origin fails
                4 pass: forward without a lease (fields present when stale-if-error still applies)
                5 fail-safe: stale-if-error copy while the origin is failing: serve it now, no lease
          In state 3 the fields are present only to the filler, or when ARGV[5] is '1'.
          filler 1 when this request took the fill lease (states 0, 2, 3), else 0. The lease is
          taken only when nobody holds an unexpired one and no pass marker applies.
A key of another type (foreign data) is deleted and treated as a miss. Server clock only.
]]

local key = KEYS[1]
local owner = ARGV[1]
local lease_ms = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- No TYPE probe on the hot path: a key of another type makes HMGET fail with WRONGTYPE, and only then is it deleted.
local e = redis.pcall('HMGET', key, 's', 'h', 'b', 'et', 'c', 'f', 'w', 'x', 'l', 'lx', 'p', 'v')
if e.err then
  redis.call('DEL', key)
  e = {}
end
-- Whether the hash existed: a lease on a new key sets its expiry without asking for it first.
local existed = false
for i = 1, 12 do
  if e[i] then existed = true break end
end
if e[1] and (e[12] ~= ARGV[3] or ARGV[4] == '1') then
  for i = 1, 8 do e[i] = false end
end
local pass = tonumber(e[11])
local passing = pass ~= nil and pass > now

-- The decision first, then the lease, then the reply: straight-line code, no closure made per call (in Redis's Lua a
-- closure and its captured locals are allocations, and allocation is much of a short script's own cost).
local state -- 0 miss, 1 fresh, 2 stale-while-revalidate, 3 stale-if-error, 4 pass, 5 fail-safe
if e[1] then
  local f, w, x = tonumber(e[6]) or 0, tonumber(e[7]) or 0, tonumber(e[8]) or 0
  if now < f then state = 1
  elseif now < w then state = 2
  elseif now < x then state = passing and 5 or 3
  end
end
if not state then state = passing and 4 or 0 end

local filler = 0
if (state == 0 or state == 2 or state == 3) and owner ~= '' and not passing then
  local lx = tonumber(e[10])
  -- A lease this owner already holds is its own (a second lookup of the same request, see ARGV[4]).
  if not (e[9] and e[9] ~= owner and lx and lx > now) then
    local g = redis.pcall('GET', KEYS[2])
    g = type(g) == 'string' and tonumber(g) or nil
    if not g then
      -- First lease of the policy (or its sequence was lost): start it at the clock, so any later eviction is after it.
      g = now
      redis.call('SET', KEYS[2], g)
    end
    redis.call('HSET', key, 'l', owner, 'lx', now + lease_ms, 'lg', g, 'lt', now)
    if not existed or redis.call('PTTL', key) < lease_ms then redis.call('PEXPIRE', key, lease_ms) end
    filler = 1
  end
end

if state == 1 or state == 2 or state == 5 or (state == 3 and (filler == 1 or ARGV[5] == '1')) then
  return { state .. ' ' .. filler .. ' ' .. now .. ' ' .. e[1] .. ' ' .. (e[5] or '') .. ' ' .. (e[6] or '') .. ' ' ..
           (e[7] or '') .. ' ' .. (e[8] or '') .. ' ' .. (e[4] or ''), e[2], e[3] }
end
return { state .. ' ' .. filler .. ' ' .. now }
