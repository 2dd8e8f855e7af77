-- rebuild: cache what SQL said about the right to write, unless a grant or
-- revoke ran since the caller read the version (it then reads SQL again):
-- restore a missing auth key, and mark a refusal for a while, so that a
-- refused sender does not reach SQL on every try.
-- KEYS: auth (pair or members), ver, the caller's deny marker, the revoking
--       marker (a revoke is under way: write nothing; the caller retries)
-- ARGV: kind (pair | members | none), version read before SQL, deny ms (0:
--       allowed), member ids...
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then return 0 end
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
if ARGV[1] == 'pair' then
  redis.call('SET', KEYS[1], '1')
elseif ARGV[1] == 'members' and redis.call('EXISTS', KEYS[1]) == 0 and #ARGV > 3 then
  redis.call('SADD', KEYS[1], unpack(ARGV, 4))
end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[3], '1', 'PX', ARGV[3]) end
return 1
