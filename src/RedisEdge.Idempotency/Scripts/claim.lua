--[[
claim.lua - decides what one request carrying an idempotency key does, in one round trip.

KEYS[1]   the record of one (caller scope, key) pair: a hash
            fp    request fingerprint (SHA-256 of method, path, query, selected headers and body)
            own   owner token of the execution holding the claim (random per execution)
            st    'r' while the handler runs, 'c' once its response is stored, 'u' when the handler ran but its
                  outcome could not be stored (outcome unknown: never runnable again until the record expires
                  with the retention, or an operator deletes it)
            exp   lease expiry, Redis server clock, milliseconds since the epoch (while 'r')
            fen   fencing token of the execution holding (or that held) the claim: the Redis server clock in
                  microseconds at the claim, and always above the record's previous token, so it increases with
                  every execution of the key while the server clock does
            code, hdr, body   the stored response (once 'c')
ARGV[1]   fingerprint of this request
ARGV[2]   owner token of this execution
ARGV[3]   lease in milliseconds
ARGV[4]   time-to-live of an in-flight record in milliseconds (longer than the lease, so an expired claim is
          still seen, and counted, as a takeover)

Returns   {1, fence}                new: this request holds the claim and must execute
          {2, fence}                takeover: the previous claim's lease had expired (its instance died or
                                    stalled); this request now holds the claim and must execute
          {0, remaining_ms}         in flight: another execution holds a live lease for remaining_ms
          {3, code, headers, body}  completed: replay the stored response
          {4}                       mismatch: the key was used for a different request (checked before any
                                    takeover: a different request never takes over an expired lease)
          {5}                       outcome unknown: the handler ran but its response could not be stored
]]

if redis.replicate_commands then redis.replicate_commands() end

local key = KEYS[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
-- Microseconds since the epoch stay below 2^53, exact in a Lua number.
local fence = tonumber(time[1]) * 1000000 + tonumber(time[2])
local lease = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])

-- One read for every outcome, the replay's response included, and no TYPE probe: a key of another type (foreign or
-- corrupted data, which holds no claim) makes HMGET fail with WRONGTYPE. Straight-line code: the branches that answer
-- without claiming return at once, the others say how to claim (no closure made per call, replays included).
local outcome, reset, previous
local record = redis.pcall('HMGET', key, 'fp', 'st', 'exp', 'code', 'hdr', 'body', 'fen')
if record.err then
  outcome, reset = 1, true
else
  local fp, st, exp = record[1], record[2], tonumber(record[3])
  if not fp and not st and not record[3] and not record[4] and not record[5] and not record[6] and not record[7] then
    -- No record (a hash always has a field): nothing to reset.
    outcome, reset = 1, false
  elseif st == 'c' then
    if fp ~= ARGV[1] then
      return {4}
    end

    return {3, tonumber(record[4]) or 0, record[5] or '', record[6] or ''}
  elseif st == 'u' then
    if fp ~= ARGV[1] then
      return {4}
    end

    return {5}
  elseif st ~= 'r' or exp == nil then
    outcome, reset = 1, true
  elseif fp ~= ARGV[1] then
    -- The fingerprint first, whatever the lease: a different request under a used key is refused even when the
    -- holder stalled past its lease (taking over for it would run a second, different request under the first one's
    -- key).
    return {4}
  elseif exp <= now then
    -- The holder's lease ran out without renewal: it is dead or stalled, and it holds nothing any more. An in-flight
    -- record has exactly the fields HSET overwrites.
    outcome, reset, previous = 2, false, tonumber(record[7])
  else
    return {0, exp - now}
  end
end

-- The claim. Its first write is HSET, which Redis refuses when it is out of memory under noeviction: the claim then
-- fails (an outage, 503) instead of a DEL making the script "dirty" and letting it write past maxmemory.
if reset then
  redis.call('DEL', key)
end
if previous and previous >= fence then
  fence = previous + 1
end
local token = string.format('%d', fence)
redis.call('HSET', key, 'fp', ARGV[1], 'own', ARGV[2], 'st', 'r', 'exp', string.format('%d', now + lease), 'fen', token)
redis.call('PEXPIRE', key, ttl)
return {outcome, token}
