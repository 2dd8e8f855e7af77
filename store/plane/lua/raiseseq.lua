-- raiseseq: lift a conversation's counter to at least ARGV[1], when SQL
-- holds a seq above it (the archive found a seq handed out twice).
-- KEYS: seq
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
