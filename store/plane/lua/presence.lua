-- presence: what a user's friends see of them, on the user's slot.
-- KEYS: devices, presence
-- ARGV: mode, presence grace ms, status ('' keeps it), receipts ('' keeps
--       it; '1' or '0')
-- mode set: the user chose a status or receipts; load: their choices as
--   SQL has them, written only where Redis has none (a set that raced the
--   load wins); check: the sweeper's look at a user whose grace may be up;
--   ann: an announcement with since ARGV[3] was delivered (ann only rises).
-- Returns {outcome, announcement, last poll, pending}: outcome live (a
-- device polled within the grace), idle, or load (the user's choices are
-- not in Redis: read them from SQL and call again); announcement as presence_show,
-- '' when nothing changed; pending the announcement friends may have
-- missed (the current one, when its since is not the last one known
-- delivered), or ''.
local pk, mode = KEYS[2], ARGV[1]
local now = now_ms()
if mode == 'ann' then
  if tonumber(ARGV[3]) > tonumber(redis.call('HGET', pk, 'ann') or '0') then redis.call('HSET', pk, 'ann', ARGV[3]) end
  return {'idle', '', '0', ''}
end
if mode == 'set' then
  if ARGV[3] ~= '' then redis.call('HSET', pk, 'status', ARGV[3]) end
  if ARGV[4] ~= '' then redis.call('HSET', pk, 'receipts', ARGV[4]) end
elseif mode == 'load' then
  redis.call('HSETNX', pk, 'status', ARGV[3])
  redis.call('HSETNX', pk, 'receipts', ARGV[4])
end
local last = last_poll(KEYS[1])
local live = last ~= nil and last >= now - tonumber(ARGV[2])
local status = redis.call('HGET', pk, 'status')
-- Without the user's status nothing may be shown (an invisible user
-- would show online): the caller reads it from SQL first.
if not status and mode ~= 'load' then return {'load', '', '0', ''} end
local seen = now
if not live then seen = last or now end
local ann = ''
if mode ~= 'check' or not live then
  ann = presence_show(pk, presence_target(status, live), now, seen)
end
local pending = ''
if ann == '' then
  local h = redis.call('HMGET', pk, 'shown', 'since', 'seen', 'ann')
  if h[1] and h[2] and h[2] ~= h[4] then pending = h[1] .. ':' .. h[2] .. ':' .. (h[3] or h[2]) end
end
local outcome = 'idle'
if live then outcome = 'live' end
return {outcome, ann, tostring(last or 0), pending}
