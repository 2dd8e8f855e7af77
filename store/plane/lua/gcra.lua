-- gcra: a generic cell rate limiter (one key, one slot). The key holds the
-- theoretical arrival time (TAT, ms) of the next request; a request is let
-- through if it would not arrive more than burst intervals early.
-- KEYS: the limit's key
-- ARGV: interval ms (1 / rate; may be fractional), burst, cost (default 1:
--       one request), mode: take (default: let through and count it, or
--       refuse) or charge (count cost, which may be below 0 to give some
--       back, whatever it leaves: a cost known only afterwards puts the
--       limit in debt, which later requests wait out)
-- Returns {1, 0} when allowed, {0, ms to wait} when not.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local cost, mode = tonumber(ARGV[3] or '1'), ARGV[4] or 'take'
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval * cost
local wait = next_tat - interval * burst - now
if mode ~= 'charge' and wait > 0 then return {0, math.ceil(wait)} end
if next_tat < now then next_tat = now end
redis.call('SET', KEYS[1], string.format('%.3f', next_tat), 'PX', math.ceil(next_tat - now) + 1000)
return {1, 0}
