-- Increments two keys of one hash slot and returns both values: a multi-key script for cluster migration tests.
return { redis.call('INCR', KEYS[1]), redis.call('INCR', KEYS[2]) }
