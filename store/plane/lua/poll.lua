-- poll: one step of a long-poll for one device, never blocking.
-- KEYS: evid, devices, pollgen, inbox, inflight, presence
-- ARGV: kp, ut, device, cursor (-1: none), gen (0: a new poll), ttl ms,
--       batch, max devices, mode (start | now | check | final | reset); now
--       is a start that will not wait, final the last check before a
--       timeout, reset a start whose cursor is of an earlier epoch (the
--       device's lists are dropped and it is entered afresh);
--       the node whose wake-up subscription the poll waits on ('': it
--       waits in BLMOVE)
-- Returns {'events', gen, pres, ev...} oldest first, {'empty', gen, evid,
-- pres}, {'resync', evid, gen, pres}, {'gone'}, {'superseded'} or
-- {'badcursor'}. pres is '' or, when this poll changed what the user's
-- friends see (their first device to poll), the announcement to send them
-- (presence_show), or 'load' when the user's choices are not in Redis yet.
--
-- An answer is built from inflight only, never from what this call moved,
-- so events that an abandoned poll moved into inflight are answered by the
-- next poll; they leave inflight only when a cursor acknowledges them.
local kp, ut, dev = ARGV[1], ARGV[2], ARGV[3]
local cursor, gen, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local batch, mode = tonumber(ARGV[7]), ARGV[9]
local now = now_ms()

-- A polling device is live: friends see the user's status, unless it
-- shows already (or is invisible). An announcement not known delivered
-- (ann behind since: the node that made it died, or its fan-out failed)
-- is handed out again, at most every 5 s.
local function presence()
  local st = redis.call('HMGET', KEYS[6], 'status', 'shown', 'since', 'seen', 'ann', 'retry')
  if not st[1] then return 'load' end
  local want = presence_target(st[1], true)
  local shown = st[2] or 'offline'
  if want ~= shown then return presence_show(KEYS[6], want, now, now) end
  if shown ~= 'offline' and st[3] and st[3] ~= st[5] and now - tonumber(st[6] or st[3]) > 5000 then
    redis.call('HSET', KEYS[6], 'retry', now)
    return shown .. ':' .. st[3] .. ':' .. (st[4] or st[3])
  end
  return ''
end

local score = redis.call('ZSCORE', KEYS[2], dev)
if mode == 'reset' then
  if score then drop(kp, ut, KEYS[2], dev) end
  score, mode = nil, 'start'
end
if score and tonumber(score) < now - ttl then
  -- Unseen too long: its lists expired with it, so it must resync even if
  -- nothing has pruned it yet.
  drop(kp, ut, KEYS[2], dev)
  score = nil
end
if not score then
  -- Dropped (unseen too long, inbox overflow, pushed out by newer devices)
  -- or logged out. Either way its lists are stale.
  redis.call('DEL', KEYS[4], KEYS[5])
  if mode ~= 'start' and mode ~= 'now' then return {'gone'} end
  prune(kp, ut, KEYS[2], now, ttl)
  redis.call('ZADD', KEYS[2], now, dev)
  cap_devices(kp, ut, KEYS[2], tonumber(ARGV[8]))
  redis.call('SET', KEYS[3], '1', 'PX', ttl)
  return {'resync', redis.call('GET', KEYS[1]) or '0', 1, presence()}
end
-- Mark the device live; a write at most once a second is enough.
if now - tonumber(score) >= 1000 then redis.call('ZADD', KEYS[2], now, dev) end

local cur = redis.call('GET', KEYS[3]) or '0'
local curgen = tonumber(string.match(cur, '^(%d+)')) or 0
local keep = 0
local gen0 = gen == 0
local evid = nil
if gen0 then
  -- A new poll: its cursor is checked and acknowledges; later steps of the
  -- same poll repeat neither.
  prune(kp, ut, KEYS[2], now, ttl)
  evid = redis.call('GET', KEYS[1]) or '0'
  if cursor > tonumber(evid) then return {'badcursor'} end
  gen = curgen + 1
  -- An older poll may be waiting: woken, it answers superseded. A marker
  -- it waits for in BLMOVE (the leftmost item) stays in place.
  keep = wake_poll(kp, ut, dev, cur)
  -- Acknowledge: inflight holds ids ascending from right to left. Pop
  -- from the right until an event above the cursor, which goes back.
  if cursor >= 0 then
    while true do
      local ev = redis.call('RPOP', KEYS[5])
      if not ev then break end
      local id = event_id(ev)
      if id and id > cursor then
        redis.call('RPUSH', KEYS[5], ev)
        break
      end
    end
  end
elseif gen ~= curgen then
  return {'superseded'}
end

-- Move what waits, oldest first; wake markers are dropped below.
if keep == 0 then
  while redis.call('LMOVE', KEYS[4], KEYS[5], 'RIGHT', 'LEFT') do end
else
  while redis.call('LLEN', KEYS[4]) > keep do
    redis.call('LMOVE', KEYS[4], KEYS[5], 'RIGHT', 'LEFT')
  end
end
redis.call('LREM', KEYS[5], 0, WAKE)

-- Every list of the device expires with it (BLMOVE may have recreated
-- inflight without an expiry).
local expire = now + ttl
if gen0 then redis.call('PEXPIREAT', KEYS[4], expire) end
redis.call('PEXPIREAT', KEYS[5], expire)

local items = redis.call('LRANGE', KEYS[5], -batch, -1)
if #items > 0 then
  redis.call('SET', KEYS[3], gen, 'PX', ttl)
  local out = {'events', gen, presence()}
  for i = #items, 1, -1 do out[#out + 1] = items[i] end
  return out
end
if mode == 'final' or mode == 'now' then
  redis.call('SET', KEYS[3], gen, 'PX', ttl)
else
  -- Waiting: in BLMOVE ('gen:w'), or on node ARGV[10]'s subscription
  -- ('gen:w:<node>'), which a delivery must then publish to.
  local w = ':w'
  if ARGV[10] ~= '' then w = ':w:' .. ARGV[10] end
  redis.call('SET', KEYS[3], gen .. w, 'PX', ttl)
end
return {'empty', gen, evid or redis.call('GET', KEYS[1]) or '0', presence()}
