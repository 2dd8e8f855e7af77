-- unregister: log-out removes the device and its lists and wakes a waiting
-- poll, which then finds its session gone.
-- KEYS: devices, pollgen, inbox
-- ARGV: kp, ut, device
local gen = redis.call('GET', KEYS[2])
drop(ARGV[1], ARGV[2], KEYS[1], ARGV[3])
if gen and string.find(gen, ':w', 1, true) then
  redis.call('LPUSH', KEYS[3], WAKE)
  redis.call('PEXPIRE', KEYS[3], 60000)
end
return 1
