--[[
lookup.lua - the cache decision for one request, and the fill lease in the same step.

An entry and its fill lease live in one hash, so this script touches one key (one slot):
  s h b et    status, serialized headers, body, ETag of the stored response
  c f w x     created, fresh until, stale-while-revalidate until, stale-if-error until (server ms)
  l lx        fill lease: owner token and expiry (server ms)
  p           pass marker: until this moment (server ms) requests go to the origin without a lease
              (set when the last fill found the response uncacheable or failed)

KEYS[1]   entry hash.
ARGV[1]   owner token of this request; empty = this request may not fill (HEAD).
ARGV[2]   lease time-to-live in ms.

Returns   { state, filler, now [, s, h, b, et, c, f, w, x] } - the entry fields are present
          when the hash holds a response that is still usable in some window:
          state 0 miss (no usable entry)
                1 fresh hit
                2 stale, within stale-while-revalidate: serve it now
                3 stale, past stale-while-revalidate but within stale-if-error: forward, and
                  serve the entry only if the origin fails
                4 pass: forward without a lease (fields present when stale-if-error still applies)
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
local e = redis.pcall('HMGET', key, 's', 'h', 'b', 'et', 'c', 'f', 'w', 'x', 'l', 'lx', 'p')
if e.err then
  redis.call('DEL', key)
  e = {}
end
local pass = tonumber(e[11])
local passing = pass ~= nil and pass > now

local function take()
  if owner == '' or passing then return 0 end
  local lx = tonumber(e[10])
  if e[9] and lx and lx > now then return 0 end
  redis.call('HSET', key, 'l', owner, 'lx', now + lease_ms)
  local pttl = redis.call('PTTL', key)
  if pttl < lease_ms then redis.call('PEXPIRE', key, lease_ms) end
  return 1
end

local function reply(state, filler)
  return { state, filler, now, e[1], e[2], e[3], e[4], tonumber(e[5]), tonumber(e[6]), tonumber(e[7]), tonumber(e[8]) }
end

if e[1] then
  local f, w, x = tonumber(e[6]) or 0, tonumber(e[7]) or 0, tonumber(e[8]) or 0
  if now < f then return reply(1, 0) end
  if now < w then return reply(2, take()) end
  if now < x then
    if passing then return reply(4, 0) end
    return reply(3, take())
  end
end

if passing then return { 4, 0, now } end
return { 0, take(), now }
