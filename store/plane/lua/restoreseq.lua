-- restoreseq: put back a conversation's missing counter at the highest seq
-- SQL holds, and remember it as the seq base: every message up to it is
-- in SQL, every later one was counted unread by Redis (restoreunread's
-- dividing line; a base of 0 needs no key). A counter that came back
-- meanwhile is left alone.
-- KEYS: seq, seqbase
-- ARGV: the highest seq SQL holds
if redis.call('SET', KEYS[1], ARGV[1], 'NX') and tonumber(ARGV[1]) > 0 then
  redis.call('SET', KEYS[2], ARGV[1])
end
return 1
