-- rebuild: restore a missing auth key from what SQL said, unless a revoke
-- ran since the caller read the version (it then reads SQL again).
-- KEYS: auth (pair or members), ver
-- ARGV: kind (pair | members), version read before SQL, member ids...
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then return 0 end
if ARGV[1] == 'pair' then
  redis.call('SET', KEYS[1], '1')
elseif redis.call('EXISTS', KEYS[1]) == 0 and #ARGV > 2 then
  redis.call('SADD', KEYS[1], unpack(ARGV, 3))
end
return 1
