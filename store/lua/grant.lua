-- grant: write a new right through to Redis after the SQL commit. A pair
-- key is set; a member is added only to an existing set (a missing set is
-- rebuilt whole from SQL on its next use).
-- KEYS: auth (pair or members)
-- ARGV: kind (pair | members), uid
if ARGV[1] == 'pair' then
  redis.call('SET', KEYS[1], '1')
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SADD', KEYS[1], ARGV[2])
end
return 1
