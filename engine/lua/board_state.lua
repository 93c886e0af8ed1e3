-- board_state: what a board is built from, read in one atomic step and only through the live
-- indexes: the clinic's meta, doctors, stats and calls, and just the tickets a board shows (those
-- in a walk-in queue, and each doctor's current and suspended ones). Never today's finished
-- tickets or the booking window's reservations, so a board costs the same whatever the hour,
-- however long the clinic has run and however far ahead it books.
-- KEYS[1]  q:{clinic}:meta
-- ARGV[1]  the clinic's key prefix, ARGV[2..] its service ids
-- Returns {meta, doctors, stats, calls, tickets}; hashes as flat field/value lists.
local P = ARGV[1]
local doctors = redis.call('HGETALL', P .. 'doctors')
local ids, seen = {}, {}
local function want(id)
  if type(id) == 'string' and not seen[id] then
    seen[id] = true
    ids[#ids + 1] = id
  end
end
for i = 2, #ARGV do
  for _, queue in ipairs({'wp:', 'wn:'}) do
    for _, id in ipairs(redis.call('ZRANGE', P .. queue .. ARGV[i], 0, -1)) do want(id) end
  end
end
for i = 2, #doctors, 2 do
  local duty = cjson.decode(doctors[i])
  want(duty.current)
  if type(duty.suspended) == 'table' then
    for _, id in ipairs(duty.suspended) do want(id) end
  end
end
local tickets = {}
for first = 1, #ids, 1000 do -- unpack() has a limit on how many values it spreads
  local chunk = {unpack(ids, first, math.min(first + 999, #ids))}
  local found = redis.call('HMGET', P .. 'tickets', unpack(chunk))
  for i, id in ipairs(chunk) do
    if found[i] then
      tickets[#tickets + 1] = id
      tickets[#tickets + 1] = found[i]
    end
  end
end
return {
  redis.call('HGETALL', KEYS[1]), doctors, redis.call('HGETALL', P .. 'stats'),
  redis.call('LRANGE', P .. 'calls', 0, -1), tickets,
}
