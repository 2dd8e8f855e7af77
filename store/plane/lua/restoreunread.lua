-- restoreunread: bring back a user's unread counts from SQL after Redis
-- lost them. The field '~' of the unread hash says they are back (or that
-- there was nothing to bring back); until it is set, Redis counts only
-- what it delivered since, all of it above each conversation's seq base,
-- and SQL counted only up to the base, so the two add up without overlap.
-- KEYS: unread
-- ARGV: per conversation: conv, count, highest seq counted, read marker
-- (SQL's); returns 1 if it restored, 0 if another call did first.
if redis.call('HEXISTS', KEYS[1], '~') == 1 then return 0 end
for i = 1, #ARGV, 4 do
  local conv = ARGV[i]
  local n, last, read = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local rr = tonumber(redis.call('HGET', KEYS[1], conv .. ':read') or '0')
  if read > rr then
    redis.call('HSET', KEYS[1], conv .. ':read', read)
    rr = read
  end
  -- A read since SQL was asked may cover what it counted.
  if n > 0 and last > rr then
    redis.call('HINCRBY', KEYS[1], conv, n)
    if last > tonumber(redis.call('HGET', KEYS[1], conv .. ':last') or '0') then
      redis.call('HSET', KEYS[1], conv .. ':last', last)
    end
  end
end
redis.call('HSET', KEYS[1], '~', 1)
return 1
