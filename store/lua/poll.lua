-- poll: one step of a long-poll for one device, never blocking.
-- KEYS: evid, devices, pollgen, inbox, inflight
-- ARGV: kp, ut, device, cursor (-1: none), gen (0: a new poll), ttl ms,
--       batch, max devices, mode (start | check | final)
-- Returns {'events', gen, ev...} oldest first, {'empty', gen, evid},
-- {'resync', evid, gen}, {'gone'}, {'superseded'} or {'badcursor'}.
--
-- An answer is built from inflight only, never from what this call moved,
-- so events that an abandoned poll moved into inflight are answered by the
-- next poll; they leave inflight only when a cursor acknowledges them.
local kp, ut, dev = ARGV[1], ARGV[2], ARGV[3]
local cursor, gen, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local batch, mode = tonumber(ARGV[7]), ARGV[9]
local now = now_ms()

prune(kp, ut, KEYS[2], now, ttl)
if not redis.call('ZSCORE', KEYS[2], dev) then
  -- Dropped (unseen too long, inbox overflow, pushed out by newer devices)
  -- or logged out. Either way its lists are stale.
  redis.call('DEL', KEYS[4], KEYS[5])
  if mode ~= 'start' then return {'gone'} end
  redis.call('ZADD', KEYS[2], now, dev)
  cap_devices(kp, ut, KEYS[2], tonumber(ARGV[8]))
  redis.call('SET', KEYS[3], '1', 'PX', ttl)
  return {'resync', redis.call('GET', KEYS[1]) or '0', 1}
end
redis.call('ZADD', KEYS[2], now, dev)

local evid = tonumber(redis.call('GET', KEYS[1]) or '0')
if cursor > evid then return {'badcursor'} end

local cur = redis.call('GET', KEYS[3]) or '0'
local curgen = tonumber(string.match(cur, '^(%d+)')) or 0
local keep = 0
if gen == 0 then
  gen = curgen + 1
  if string.find(cur, ':w', 1, true) then
    -- An older poll may be blocked in BLMOVE: the marker wakes it and it
    -- answers superseded. Leave the marker (the leftmost item) in place.
    redis.call('LPUSH', KEYS[4], WAKE)
    keep = 1
  end
elseif gen ~= curgen then
  return {'superseded'}
end

-- Acknowledge: inflight holds ids ascending from right to left.
if cursor >= 0 then
  while true do
    local last = redis.call('LINDEX', KEYS[5], -1)
    if not last then break end
    local id = event_id(last)
    if id and id > cursor then break end
    redis.call('RPOP', KEYS[5])
  end
end

-- Move what waits, oldest first, dropping wake markers.
while redis.call('LLEN', KEYS[4]) > keep do
  local ev = redis.call('RPOP', KEYS[4])
  if string.byte(ev, 1) == 123 then redis.call('LPUSH', KEYS[5], ev) end
end
redis.call('LREM', KEYS[5], 0, WAKE)

local expire = now + ttl
redis.call('PEXPIREAT', KEYS[4], expire)
redis.call('PEXPIREAT', KEYS[5], expire)

local n = redis.call('LLEN', KEYS[5])
if n > 0 then
  redis.call('SET', KEYS[3], gen, 'PX', ttl)
  local items = redis.call('LRANGE', KEYS[5], -batch, -1)
  local out = {'events', gen}
  for i = #items, 1, -1 do out[#out + 1] = items[i] end
  return out
end
if mode == 'final' then
  redis.call('SET', KEYS[3], gen, 'PX', ttl)
else
  redis.call('SET', KEYS[3], gen .. ':w', 'PX', ttl)
end
return {'empty', gen, evid}
