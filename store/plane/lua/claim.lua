-- claim: take the entries of a due set whose time has come, leased for a
-- while: another node takes them again only if this one does not settle
-- them (it died). The lease is a half millisecond off any time a node
-- writes, so settle can tell its own lease from a newer entry.
-- KEYS: due
-- ARGV: lease ms, most entries
-- Returns {lease, member...}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local lease = string.format('%.1f', now + tonumber(ARGV[1]) + 0.5)
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], lease, m) end
local out = {lease}
for _, m in ipairs(due) do out[#out + 1] = m end
return out
