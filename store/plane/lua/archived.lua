-- archived: raise a conversation's watermark, the highest seq SQL holds,
-- below which the send script may trim the Redis window. It never falls.
-- KEYS: arch
-- ARGV: seq
-- Returns the watermark before, so that the archiver sees a gap below
-- what it wrote (a message that never reached the stream).
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return cur
