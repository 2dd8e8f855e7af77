-- gcra: a generic cell rate limiter (one key, one slot). The key holds the
-- theoretical arrival time (TAT, ms) of the next request; a request is let
-- through if it would not arrive more than burst intervals early.
-- KEYS: the limit's key
-- ARGV: interval ms (1 / rate), burst
-- Returns {1, 0} when allowed, {0, ms to wait} when not.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
local wait = next_tat - interval * burst - now
if wait > 0 then return {0, wait} end
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now + 1000)
return {1, 0}
