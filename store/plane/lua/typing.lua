-- typing: may the user tell the conversation they type, and not too often;
-- on the conversation's slot.
-- KEYS: auth (pair or members), the user's deny marker, their throttle
-- ARGV: auth kind (pair | members), user id, gap ms, typing (1 | 0),
--       ahead ms
-- Returns {status} (denied, nokey, forbidden, throttled: as send) or
-- {'ok', until, members}.
if redis.call('EXISTS', KEYS[2]) == 1 then return {'denied'} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'nokey'} end
local members = {}
if ARGV[1] == 'members' then
  if redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 0 then return {'forbidden'} end
  members = redis.call('SMEMBERS', KEYS[1])
end
if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', tonumber(ARGV[3])) then return {'throttled'} end
local now = now_ms()
local untl = now
if ARGV[4] == '1' then untl = now + tonumber(ARGV[5]) end
return {'ok', untl, members}
