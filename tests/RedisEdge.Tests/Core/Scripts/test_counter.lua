-- Test script for the Core runner.
-- KEYS[1]: a counter key.  ARGV[1]: TTL in milliseconds.
-- Returns { new counter value, Redis server time in microseconds }.
local now = redis.call('TIME')
local value = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return { value, tonumber(now[1]) * 1000000 + tonumber(now[2]) }
