-- register: enter a device at sign-up or log-in, so that events sent before
-- its first poll wait in its inbox.
-- KEYS: devices
-- ARGV: kp, ut, device, ttl ms, max devices
local now = now_ms()
prune(ARGV[1], ARGV[2], KEYS[1], now, tonumber(ARGV[4]))
redis.call('ZADD', KEYS[1], now, ARGV[3])
cap_devices(ARGV[1], ARGV[2], KEYS[1], tonumber(ARGV[5]))
return 1
