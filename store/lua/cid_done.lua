-- cid_done: a send's delivery finished; keep only its seq until the record
-- expires, so a late retry still answers with the first message.
-- KEYS: cid record
local seq = redis.call('HGET', KEYS[1], 'seq')
if not seq then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'seq', seq)
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('EXPIRE', KEYS[1], 86400) end
return 1
