-- grant: write a new right through to Redis after the SQL commit. A pair
-- key is set; a member is added only to an existing set (a missing set is
-- rebuilt whole from SQL on its next use). The version bump makes a
-- rebuild that read SQL before the commit read it again, and the refusal
-- markers of whoever was granted go, so nobody is refused from a cache.
-- KEYS: auth (pair or members), ver, deny markers of the users granted...
-- ARGV: kind (pair | members), uid
redis.call('INCR', KEYS[2])
if ARGV[1] == 'pair' then
  redis.call('SET', KEYS[1], '1')
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SADD', KEYS[1], ARGV[2])
end
if #KEYS > 2 then redis.call('DEL', unpack(KEYS, 3)) end
return 1
