-- deliver: one event to one user's devices, and the unread count; returns
-- the copies pushed.
-- KEYS: evid, devices, unread (and, built from kp and ut on the same slot,
--       the seen bitmap of count_unread)
-- ARGV: kp, ut, payload, skip device, conv, seq, count (1/0), ttl ms, inbox cap,
--       live ms (0: every device; else only those polling, as push says)
local now = now_ms()
local _, copies = push(ARGV[1], ARGV[2], KEYS[1], KEYS[2], ARGV[3], ARGV[4], now, tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10] or '0'))
if ARGV[7] == '1' then count_unread(ARGV[1], ARGV[2], ARGV[5], tonumber(ARGV[6])) end
return copies
