-- fence: stop every decision on a clinic whose live state is not the journal's history, so that
-- it is rebuilt before anything else is decided. Only the epoch that was found stale is fenced:
-- a clinic rebuilt meanwhile (a new epoch) is left alone.
-- KEYS[1]  q:{clinic}:meta
-- ARGV[1]  the epoch found stale
-- Returns 1 when fenced, 0 when the epoch had already changed.
if redis.call('HGET', KEYS[1], 'epoch') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'epoch')
  return 1
end
return 0
