-- track: record a session token of a user, keeping the newest max, and
-- return the tokens that no longer fit, for the caller to end. Without a
-- cap, every log-in past the device cap would enter a device that drops
-- another session's, whose next poll enters its own again: sessions
-- churning each other's devices for ever.
-- KEYS: sessions (zset: token → log-in ms)
-- ARGV: token, now ms, lifetime ms, max
local now, lifetime, max = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TYPE', KEYS[1])
if t == 'set' or (type(t) == 'table' and t.ok == 'set') then
  -- Written by an older node as a set: the order is lost, so these count
  -- as a moment older than this one.
  local old = redis.call('SMEMBERS', KEYS[1])
  redis.call('DEL', KEYS[1])
  for _, tok in ipairs(old) do redis.call('ZADD', KEYS[1], now - 1, tok) end
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - lifetime))
local over = redis.call('ZCARD', KEYS[1]) - max
local out = {}
if over > 0 then
  out = redis.call('ZRANGE', KEYS[1], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
end
redis.call('PEXPIRE', KEYS[1], lifetime)
return out
