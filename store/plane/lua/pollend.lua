-- pollend: a poll whose client hung up: its device was seen until now, and
-- no poll of it waits any more (unless a newer one does).
-- KEYS: devices, pollgen
-- ARGV: device, the poll's generation
redis.call('ZADD', KEYS[1], 'XX', 'GT', now_ms(), ARGV[1])
local cur = redis.call('GET', KEYS[2])
if cur and string.match(cur, '^(%d+)') == ARGV[2] and string.find(cur, ':w', 1, true) then
  redis.call('SET', KEYS[2], ARGV[2], 'KEEPTTL')
end
return 1
