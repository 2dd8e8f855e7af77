-- session.lua: a session record and its expiry, read together, so that
-- a node's session cache never keeps a copy past the key's life.
-- KEYS[1] session key. Returns {record, PTTL in ms}, or nil if none.
local v = redis.call('GET', KEYS[1])
if not v then
  return false
end
return {v, redis.call('PTTL', KEYS[1])}
