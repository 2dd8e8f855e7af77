-- revoke: withdraw a right, run before and again after the SQL commit. The
-- version bump makes any rebuild that read SQL before the commit discard
-- its result instead of bringing the right back.
-- KEYS: auth (pair or members), ver, seq, hist
-- ARGV: kind (pair | member | group), uid, drop history (1/0)
redis.call('INCR', KEYS[2])
if ARGV[1] == 'member' then
  redis.call('SREM', KEYS[1], ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
if ARGV[3] == '1' then redis.call('DEL', KEYS[3], KEYS[4]) end
return 1
