-- settle: what became of claimed entries of a due set, each only if it
-- still holds this node's lease (a newer entry, written meanwhile, stays).
-- KEYS: due
-- ARGV: lease, then pairs of member and its next time ('-': done, removed)
local lease = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) == lease then
    if ARGV[i + 1] == '-' then
      redis.call('ZREM', KEYS[1], ARGV[i])
    else
      redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
    end
  end
end
return 1
