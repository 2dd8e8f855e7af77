-- deliver: one event to one user's devices, and the unread count.
-- KEYS: evid, devices, unread
-- ARGV: kp, ut, payload, skip device, conv, seq, count (1/0), ttl ms, inbox cap
local now = now_ms()
local id = push(ARGV[1], ARGV[2], KEYS[1], KEYS[2], ARGV[3], ARGV[4], now, tonumber(ARGV[8]), tonumber(ARGV[9]))
if ARGV[7] == '1' then
  local conv, seq = ARGV[5], tonumber(ARGV[6])
  local rl = redis.call('HMGET', KEYS[3], conv .. ':read', conv .. ':last')
  if seq > tonumber(rl[1] or '0') then
    redis.call('HINCRBY', KEYS[3], conv, 1)
    if seq > tonumber(rl[2] or '0') then redis.call('HSET', KEYS[3], conv .. ':last', seq) end
  end
end
return id
