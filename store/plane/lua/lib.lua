-- Shared helpers, prepended to every script that touches a user's slot.
-- Device keys are built here from the prefix (ARGV kp) and the user's hash
-- tag (ARGV ut, "{u:<id>}"), so they always share the user's slot.
local WAKE = '~wake'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function dkey(kp, ut, kind, dev)
  return kp .. kind .. ':' .. ut .. ':' .. dev
end

-- drop removes a device and its lists; its next poll answers resync.
local function drop(kp, ut, devices, dev)
  redis.call('DEL', dkey(kp, ut, 'inbox', dev), dkey(kp, ut, 'inflight', dev), dkey(kp, ut, 'pollgen', dev))
  redis.call('ZREM', devices, dev)
end

-- prune drops every device unseen for ttl ms.
local function prune(kp, ut, devices, now, ttl)
  local dead = redis.call('ZRANGEBYSCORE', devices, '-inf', '(' .. (now - ttl))
  for _, dev in ipairs(dead) do drop(kp, ut, devices, dev) end
end

-- cap_devices keeps the newest max devices, dropping the least recently seen.
local function cap_devices(kp, ut, devices, max)
  local n = redis.call('ZCARD', devices)
  if n > max then
    local old = redis.call('ZRANGE', devices, 0, n - max - 1)
    for _, dev in ipairs(old) do drop(kp, ut, devices, dev) end
  end
end

-- event_id reads the id at the head of an event ('{"id":N,...'); nil for a
-- wake marker.
local function event_id(ev)
  local id = string.match(ev, '^{"id":(%d+)')
  if id then return tonumber(id) end
  return nil
end

-- publish_wake tells node that device dev of user tag ut may have events
-- (its channel and message are store/wakeups.go's).
local function publish_wake(kp, node, ut, dev)
  redis.call('PUBLISH', kp .. 'wake:' .. node, ut .. dev)
end

-- wake_poll wakes the poll of device dev that pollgen value cur says is
-- waiting: 'gen:w' waits in BLMOVE on the inbox, which a marker wakes;
-- 'gen:w:<node>' waits on that node's wake-up subscription, which a
-- publish to the node's channel wakes. Returns 1 if it pushed a marker.
local function wake_poll(kp, ut, dev, cur)
  if not cur then return 0 end
  local node = string.match(cur, '^%d+:w:(.+)$')
  if node then
    publish_wake(kp, node, ut, dev)
    return 0
  end
  if string.find(cur, ':w', 1, true) then
    redis.call('LPUSH', dkey(kp, ut, 'inbox', dev), WAKE)
    return 1
  end
  return 0
end

-- push gives the next event id to payload and pushes it onto the inbox of
-- every live device except skip. An inbox that would pass cap drops its
-- device instead of trimming, so the device learns (resync) that it
-- missed events. Returns the event id, or 0 when no device was live, and
-- the copies pushed (what the event costs Redis, for the fan-out limit).
--
-- A device whose poll waits on a node's subscription ('gen:w:<node>')
-- gets the event straight into inflight, and the node gets the event with
-- the wake-up, so it answers that poll without another step: a waiting
-- poll found inflight and the inbox empty, and unmarked (as this does) it
-- takes every later event through the inbox, so the order holds. Whatever
-- the node does not answer stays in inflight for the next poll.
--
-- live > 0 makes the event ephemeral (typing, read counts): only devices
-- polling now get it, that is with a poll waiting, or one seen within the
-- last 5 s (between two polls), and in any case seen within live ms.
local function push(kp, ut, evid, devices, payload, skip, now, ttl, cap, live)
  local devs = redis.call('ZRANGE', devices, 0, -1, 'WITHSCORES')
  local id, ev, copies = 0, nil, 0
  live = live or 0
  for i = 1, #devs, 2 do
    local dev = devs[i]
    local seen = tonumber(devs[i + 1])
    local pg = dkey(kp, ut, 'pollgen', dev)
    local pgv = nil
    local polling = true
    if live > 0 and dev ~= skip then
      pgv = redis.call('GET', pg)
      polling = pgv and seen >= now - live and (seen >= now - 5000 or string.find(pgv, ':w', 1, true) ~= nil)
    end
    if seen < now - ttl then
      drop(kp, ut, devices, dev) -- unseen too long (as prune does)
    elseif dev ~= skip and polling then
      if id == 0 then
        id = redis.call('INCR', evid)
        ev = '{"id":' .. id .. ',' .. string.sub(payload, 2)
      end
      copies = copies + 1
      local g, node = string.match(pgv or redis.call('GET', pg) or '', '^(%d+):w:(.+)$')
      if node then
        local inflight = dkey(kp, ut, 'inflight', dev)
        redis.call('LPUSH', inflight, ev)
        redis.call('PEXPIREAT', inflight, tonumber(devs[i + 1]) + ttl)
        redis.call('PUBLISH', kp .. 'wake:' .. node, ut .. dev .. '\n' .. g .. '\n' .. ev)
        redis.call('SET', pg, g, 'KEEPTTL')
      else
        -- A poll waiting in BLMOVE wakes by itself.
        local inbox = dkey(kp, ut, 'inbox', dev)
        if redis.call('LPUSH', inbox, ev) > cap then
          -- Past the cap: the device is dropped rather than trimmed.
          drop(kp, ut, devices, dev)
        else
          redis.call('PEXPIREAT', inbox, tonumber(devs[i + 1]) + ttl)
        end
      end
    end
  end
  return id, copies
end

-- UNREAD_RING is how many seqs up to a conversation's newest counted
-- message count_unread remembers as counted, a bit each in the user's
-- string seen:{u:<id>}:<conv> (SETBIT, seq modulo the ring; 512 bytes).
local UNREAD_RING = 4096

-- count_unread counts message seq of conv as unread for user tag ut, once:
-- not if the user has read up to it, and not again when it is delivered a
-- second time (a retry that overlapped the first attempt, a delivery
-- script cut short and done again). <conv>:last in the unread hash keeps
-- the highest seq counted, the seen bitmap which seqs of the ring up to it
-- were. A seq below last may still be new (a pipelined delivery arriving
-- out of order, the rest of a delivery a retry finishes later): within the
-- ring its bit tells; further back nothing tells, and it is counted, since
-- a first delivery finishing that late is likelier than a repeat.
local function count_unread(kp, ut, conv, seq)
  local unread = kp .. 'unread:' .. ut
  local seen = kp .. 'seen:' .. ut .. ':' .. conv
  local rl = redis.call('HMGET', unread, conv .. ':read', conv .. ':last')
  if seq <= tonumber(rl[1] or '0') then return end
  local last = tonumber(rl[2] or '0')
  if seq > last then
    if seq - last >= UNREAD_RING then
      redis.call('DEL', seen)
    else
      -- The slots of last+1 .. seq-1 still hold seqs a ring's length older.
      for s = last + 1, seq - 1 do redis.call('SETBIT', seen, s % UNREAD_RING, 0) end
    end
    redis.call('SETBIT', seen, seq % UNREAD_RING, 1)
    redis.call('HSET', unread, conv .. ':last', seq)
  elseif seq > last - UNREAD_RING then
    if redis.call('SETBIT', seen, seq % UNREAD_RING, 1) == 1 then return end
  end
  redis.call('HINCRBY', unread, conv, 1)
end

-- Presence. A user's presence hash (presence:{u:<id>}) holds what they
-- chose (status: online | away | invisible; receipts: 1 | 0, both from
-- SQL), and what their friends were last told: shown (online | away |
-- offline), since (when that began), seen (their last_seen) and ann (the
-- since of the last announcement the friends are known to have had).

-- last_poll returns the newest last-seen time of the user's devices, or
-- nil when there is none.
local function last_poll(devices)
  local top = redis.call('ZREVRANGE', devices, 0, 0, 'WITHSCORES')
  if #top == 0 then return nil end
  return tonumber(top[2])
end

-- presence_target is what friends should see: nothing live, or invisible,
-- shows offline.
local function presence_target(status, live)
  if not live or status == 'invisible' then return 'offline' end
  return status or 'online'
end

-- presence_show makes friends' view of the user state, from now, with
-- last_seen seen. Returns the announcement ('state:since:seen') or '' when
-- nothing changed.
local function presence_show(pk, state, now, seen)
  local shown = redis.call('HGET', pk, 'shown') or 'offline'
  if shown == state then return '' end
  redis.call('HSET', pk, 'shown', state, 'since', now, 'seen', seen)
  return state .. ':' .. now .. ':' .. seen
end
