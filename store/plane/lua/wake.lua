-- wake: push a wake marker for a poll waiting in BLMOVE (drain, log-out).
-- The marker never reaches a client: the poll script strips it. A list the
-- marker creates gets a short expiry, since nothing else may ever touch it.
-- KEYS: inbox
redis.call('LPUSH', KEYS[1], WAKE)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], 60000) end
return 1
