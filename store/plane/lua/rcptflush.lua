-- rcptflush: the read counts due to the authors of a group's messages
-- read since the last flush; on the conversation's slot.
-- KEYS: rcpt, reads, hist, seq
-- ARGV: most messages to look at
-- Returns {'none'}, {'later', due} or {'done', author, seq, count, ...}:
-- for each author, their newest message read, and how many members other
-- than them have read up to it.
local now = now_ms()
local h = redis.call('HMGET', KEYS[1], 'lo', 'hi', 'due')
if not h[3] then return {'none'} end
if tonumber(h[3]) > now then return {'later', h[3]} end
local lo, hi = tonumber(h[1] or '0'), tonumber(h[2] or '0')
redis.call('HDEL', KEYS[1], 'lo', 'hi', 'due')
redis.call('HSET', KEYS[1], 'last', now)
redis.call('PEXPIRE', KEYS[1], 600000)
local out = {'done'}
local top = tonumber(redis.call('GET', KEYS[4]) or '0')
hi = math.min(hi, top)
local from = math.max(lo + 1, hi - tonumber(ARGV[1]) + 1)
if hi < from then return out end
local best, order = {}, {}
for _, m in ipairs(redis.call('LRANGE', KEYS[3], top - hi, top - from)) do
  local seq = tonumber(string.match(m, '"seq":(%d+)'))
  local author = string.match(m, '"from":(%d+)')
  if seq and author then
    if not best[author] then order[#order + 1] = author end
    if not best[author] or seq > best[author] then best[author] = seq end
  end
end
for _, author in ipairs(order) do
  local seq = best[author]
  local n = redis.call('ZCOUNT', KEYS[2], seq, '+inf')
  local own = redis.call('ZSCORE', KEYS[2], author)
  if own and tonumber(own) >= seq then n = n - 1 end
  out[#out + 1] = author
  out[#out + 1] = seq
  out[#out + 1] = n
end
return out
