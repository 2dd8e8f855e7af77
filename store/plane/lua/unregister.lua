-- unregister: log-out removes the device and its lists and wakes a waiting
-- poll, which then finds its session gone.
-- KEYS: devices, pollgen, inbox, presence
-- ARGV: kp, ut, device, presence grace ms
-- Returns the presence announcement for the user's friends: offline when
-- no other device polled within the grace period, else ''.
local gen = redis.call('GET', KEYS[2])
drop(ARGV[1], ARGV[2], KEYS[1], ARGV[3])
if wake_poll(ARGV[1], ARGV[2], ARGV[3], gen) == 1 then
  redis.call('PEXPIRE', KEYS[3], 60000)
end
local now = now_ms()
local last = last_poll(KEYS[1])
if last and last >= now - tonumber(ARGV[4]) then return '' end
return presence_show(KEYS[4], 'offline', now, now)
