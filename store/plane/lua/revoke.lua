-- revoke: withdraw a right, run before and again after the SQL commit. The
-- version bump makes any rebuild that read SQL before the commit discard
-- its result instead of bringing the right back; the marker, from the
-- first run to the second, keeps any rebuild from writing meanwhile, and
-- expires by itself should the second run never come.
-- KEYS: auth (pair or members), ver, seq, hist, revoking marker
-- ARGV: kind (pair | member | all), uid, drop history (1/0), marker: set
--       (ms to keep it), clear (0) or leave alone (-1)
redis.call('INCR', KEYS[2])
if ARGV[1] == 'member' then
  redis.call('SREM', KEYS[1], ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
if ARGV[3] == '1' then redis.call('DEL', KEYS[3], KEYS[4]) end
local mark = tonumber(ARGV[4] or '-1')
if mark > 0 then
  redis.call('SET', KEYS[5], '1', 'PX', mark)
elseif mark == 0 then
  redis.call('DEL', KEYS[5])
end
return 1
