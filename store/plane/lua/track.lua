-- track: record a session of a user, as "<token>|<device>", and end the
-- sessions beyond max, least recently seen first (by their device's last
-- poll, as the device cap drops devices): each goes with its device and
-- lists, and its token is returned for the caller to delete. Without a
-- cap, every log-in past the device cap would enter a device that drops
-- another session's, whose next poll enters its own again: sessions
-- churning each other's devices for ever.
-- KEYS: sessions (zset: "<token>|<dev>" → log-in ms), devices
-- ARGV: kp, ut, token, dev, lifetime ms, max
local kp, ut, token, dev = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local lifetime, max = tonumber(ARGV[5]), tonumber(ARGV[6])
local now = now_ms()
local t = redis.call('TYPE', KEYS[1])
if t == 'set' or (type(t) == 'table' and t.ok == 'set') then
  -- Written by an older node as a set of tokens: their devices are not
  -- known, so they count as seen a moment before this log-in.
  local old = redis.call('SMEMBERS', KEYS[1])
  redis.call('DEL', KEYS[1])
  for _, tok in ipairs(old) do redis.call('ZADD', KEYS[1], now - 1, tok) end
end
local me = token .. '|' .. dev
redis.call('ZADD', KEYS[1], now, me)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - lifetime))
local out = {}
local over = redis.call('ZCARD', KEYS[1]) - max
if over > 0 then
  local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  local seen = {}
  for i = 1, #all, 2 do
    local m = all[i]
    if m ~= me then
      local d = string.match(m, '|(.+)$')
      local at = tonumber(all[i + 1])
      if d then at = tonumber(redis.call('ZSCORE', KEYS[2], d) or '0') end
      seen[#seen + 1] = {m = m, d = d, at = at}
    end
  end
  table.sort(seen, function(a, b) return a.at < b.at end)
  for i = 1, math.min(over, #seen) do
    local s = seen[i]
    redis.call('ZREM', KEYS[1], s.m)
    if s.d and s.d ~= dev then drop(kp, ut, KEYS[2], s.d) end
    out[#out + 1] = string.match(s.m, '^([^|]+)')
  end
end
redis.call('PEXPIRE', KEYS[1], lifetime)
return out
