-- unregister: log-out removes the device and its lists and wakes a waiting
-- poll, which then finds its session gone.
-- KEYS: devices, pollgen, inbox
-- ARGV: kp, ut, device
local gen = redis.call('GET', KEYS[2])
drop(ARGV[1], ARGV[2], KEYS[1], ARGV[3])
if wake_poll(ARGV[1], ARGV[2], ARGV[3], gen) == 1 then
  redis.call('PEXPIRE', KEYS[3], 60000)
end
return 1
