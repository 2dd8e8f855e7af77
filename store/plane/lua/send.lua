-- send: the one script on a conversation's slot that stores a message.
-- KEYS: seq, hist, auth (pair or members), cid record, the sender's deny
--       marker; with an archive, its watermark (the highest seq SQL holds)
--       and, on a single Redis, the conversation's archive stream
-- ARGV: conv, from, to, type, body (JSON string), client_id, client_id
--       (JSON string), history cap, cid ttl s, auth kind (pair | members),
--       and to deliver in this script too: kp, the sending device, device
--       ttl ms, inbox cap, most members (none: the caller delivers; a
--       larger group too, so that one script does not hold Redis for
--       thousands of pushes)
-- Returns {status, msg, delivered, members, done, seq, recipients, copies}: status
-- is new, dup, gone (a duplicate whose message left the history window),
-- noseq (with an archive: the counter is missing, restore it from SQL and
-- call again), nokey (rebuild auth from SQL and call again), forbidden (the members key
-- refuses: ask SQL, the key may be stale) or denied (SQL refused a moment
-- ago); delivered '1' when nothing is left to deliver.
--
-- Delivering here touches every recipient's keys, which a Redis Cluster
-- refuses (they live in other slots), so only a single Redis is asked to:
-- then the message, its delivery and its client_id record are one atomic
-- step and the record never needs to remember who is done.
local conv, from = ARGV[1], ARGV[2]
local members = {}
if redis.call('EXISTS', KEYS[5]) == 1 then return {'denied'} end
if redis.call('EXISTS', KEYS[3]) == 0 then return {'nokey'} end
if ARGV[10] == 'members' then
  if redis.call('SISMEMBER', KEYS[3], from) == 0 then return {'forbidden'} end
  members = redis.call('SMEMBERS', KEYS[3])
end

local cid = ARGV[6]
if cid ~= '' then
  local rec = redis.call('HGETALL', KEYS[4])
  if #rec > 0 then
    local f, done = {}, {}
    for i = 1, #rec, 2 do
      f[rec[i]] = rec[i + 1]
      if string.sub(rec[i], 1, 2) == 'd:' then done[#done + 1] = string.sub(rec[i], 3) end
    end
    if f['msg'] then return {'dup', f['msg'], '0', members, done} end
    -- Delivered long ago: the record keeps only the seq; history has the rest.
    local seq = tonumber(f['seq'])
    local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
    local msg = redis.call('LINDEX', KEYS[2], cur - seq)
    if not msg then return {'gone', '', '1', members, done, tostring(seq)} end
    return {'dup', msg, '1', members, done, tostring(seq)}
  end
end

-- With an archive, a missing counter may be a Redis that lost its data:
-- the next seq must be above what SQL holds, so the caller restores it.
if KEYS[6] and redis.call('EXISTS', KEYS[1]) == 0 then return {'noseq'} end
local seq = redis.call('INCR', KEYS[1])
local now = now_ms()
local ts = now
-- ts follows seq even if Redis's clock steps back (failover, NTP).
local prev = redis.call('LINDEX', KEYS[2], 0)
if prev then
  local p = tonumber(string.match(prev, '"ts":(%d+)'))
  if p and p > ts then ts = p end
end
local msg = '{"conv":"' .. conv .. '","seq":' .. string.format('%d', seq) ..
  ',"from":' .. from .. ',"to":' .. ARGV[3] .. ',"type":"' .. ARGV[4] ..
  '","body":' .. ARGV[5] .. ',"ts":' .. string.format('%d', ts)
if cid ~= '' then msg = msg .. ',"client_id":' .. ARGV[7] end
msg = msg .. '}'
redis.call('LPUSH', KEYS[2], msg)
local keep = tonumber(ARGV[8])
if KEYS[6] then
  -- The window trims only what SQL already holds: a lagging archive keeps
  -- every message above its watermark.
  local unarchived = seq - tonumber(redis.call('GET', KEYS[6]) or '0')
  if unarchived > keep then keep = unarchived end
  if KEYS[7] then redis.call('XADD', KEYS[7], '*', 'm', msg) end
end
redis.call('LTRIM', KEYS[2], 0, keep - 1)
-- The record keeps the message until delivery is done: a script that
-- fails part-way (Redis out of memory, say) leaves it for the retry to
-- deliver, rather than storing the message again under a new seq.
if cid ~= '' then
  redis.call('HSET', KEYS[4], 'seq', seq, 'msg', msg)
  redis.call('EXPIRE', KEYS[4], tonumber(ARGV[9]))
end
local kp = ARGV[11]
if not kp or #members > tonumber(ARGV[15]) then
  return {'new', msg, '0', members, {}}
end

-- Deliver to the friend and the sender, or to every member (the sender
-- among them), as deliver.lua does for one user.
if ARGV[10] ~= 'members' then members = {ARGV[3], from} end
local payload = '{"type":"message","message":' .. msg .. '}'
local ttl, cap = tonumber(ARGV[13]), tonumber(ARGV[14])
local copies = 0
for _, r in ipairs(members) do
  local ut = '{u:' .. r .. '}'
  local skip = ''
  if r == from then skip = ARGV[12] end
  local _, n = push(kp, ut, kp .. 'evid:' .. ut, kp .. 'devices:' .. ut, payload, skip, now, ttl, cap)
  copies = copies + n
  if r ~= from then count_unread(kp, ut, conv, seq) end
end
if cid ~= '' then redis.call('HDEL', KEYS[4], 'msg') end
return {'new', msg, '1', {}, {}, '', #members, copies}
