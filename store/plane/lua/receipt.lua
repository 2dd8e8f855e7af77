-- receipt: a group member's read marker rose; on the conversation's slot.
-- KEYS: reads (member id -> read up to), rcpt (the receipts waiting to go
--       to the authors: lo, hi, due, and last, when they last went),
--       members
-- ARGV: member id, read up to before, read up to now, gap ms
-- Returns -1 to flush now, else the time the next flush is due (at most
-- one per gap), which the caller enters in the due set (again: entering
-- it twice is harmless, missing it would strand the counts).
local now = now_ms()
if redis.call('EXISTS', KEYS[3]) == 1 and redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 then
  return 0 -- not a member (any more): their read counts for nobody
end
redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[1])
local h = redis.call('HMGET', KEYS[2], 'lo', 'hi', 'due', 'last')
local lo, hi = tonumber(ARGV[2]), tonumber(ARGV[3])
if h[1] then lo = math.min(lo, tonumber(h[1])) end
if h[2] then hi = math.max(hi, tonumber(h[2])) end
redis.call('HSET', KEYS[2], 'lo', lo, 'hi', hi)
redis.call('PEXPIRE', KEYS[2], 600000)
if h[3] then return tonumber(h[3]) end
local due = math.max(now, tonumber(h[4] or '0') + tonumber(ARGV[4]))
redis.call('HSET', KEYS[2], 'due', due)
if due <= now then return -1 end
return due
