-- read: mark a conversation read up to seq and tell the user's other devices.
-- KEYS: evid, devices, unread, presence; on a single Redis with an
--       archive, the conversation's archive stream, which gets a marker
--       that rose
-- ARGV: kp, ut, payload, skip device, conv, seq, ttl ms, inbox cap, uid
-- Returns {unread count left, 1 if the marker rose, the marker before,
-- receipts}: receipts is the user's choice ('1' or '0'), '' when Redis
-- does not have it.
-- The count clears only when seq covers the highest message counted, so a
-- message that arrived after the client looked stays unread.
local conv, seq = ARGV[5], tonumber(ARGV[6])
local read = tonumber(redis.call('HGET', KEYS[3], conv .. ':read') or '0')
local rose = 0
if seq > read then
  redis.call('HSET', KEYS[3], conv .. ':read', seq)
  rose = 1
  if KEYS[5] then redis.call('XADD', KEYS[5], '*', 'u', ARGV[9], 'c', conv, 's', seq) end
end
local last = tonumber(redis.call('HGET', KEYS[3], conv .. ':last') or '0')
if seq >= last then
  redis.call('HDEL', KEYS[3], conv)
  redis.call('DEL', ARGV[1] .. 'seen:' .. ARGV[2] .. ':' .. conv) -- count_unread's ring
end
local now = now_ms()
push(ARGV[1], ARGV[2], KEYS[1], KEYS[2], ARGV[3], ARGV[4], now, tonumber(ARGV[7]), tonumber(ARGV[8]))
return {tonumber(redis.call('HGET', KEYS[3], conv) or '0'), rose, read, redis.call('HGET', KEYS[4], 'receipts') or ''}
