-- history: a page of a conversation's messages, oldest first, with the
-- right-to-read check for groups. hist is newest first and contiguous in
-- seq (INCR and LPUSH happen in one script), so index = last seq - seq.
-- KEYS: seq, hist, members (groups; any same-slot key for direct), the
--       reader's deny marker
-- ARGV: kind (direct | members), uid, before (0: from the newest), limit
-- Returns {'ok', last seq, has_more (1/0), the window's length, paired,
-- msg...} (paired: for direct, 1 while the pair key says they are
-- friends; for a group 1), {'nokey'}, {'forbidden'}
-- (the members key refuses: ask SQL, it may be stale) or {'denied'} (SQL
-- refused a moment ago).
if ARGV[1] == 'members' then
  if redis.call('EXISTS', KEYS[4]) == 1 then return {'denied'} end
  if redis.call('EXISTS', KEYS[3]) == 0 then return {'nokey'} end
  if redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 0 then return {'forbidden'} end
end
local paired = 1
if ARGV[1] ~= 'members' then paired = redis.call('EXISTS', KEYS[3]) end
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local before, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
if before <= 0 or before > cur + 1 then before = cur + 1 end
local start = cur + 1 - before
local len = redis.call('LLEN', KEYS[2])
if limit <= 0 or before <= 1 or start >= len then return {'ok', cur, 0, len, paired} end
local items = redis.call('LRANGE', KEYS[2], start, start + limit - 1)
local more = 0
if start + #items < len then more = 1 end
local out = {'ok', cur, more, len, paired}
for i = #items, 1, -1 do out[#out + 1] = items[i] end
return out
