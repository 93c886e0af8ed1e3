-- duty: change a doctor's duty live (status, cabinet, services). A patient in hand stays in hand.
-- ARGV[8] doctor id   ARGV[9] status ('' keep)   ARGV[10] cabinet ('' keep)
-- ARGV[11] services, comma-separated ('' keep)
-- ARGV[12] default cabinet ('' none)   ARGV[13] default services, comma-separated
-- ARGV[14] If-Match: the duty version the change was made against ('' any)
-- DUTY_MOVES (generated from engine/model/queue.py): the statuses each status may go to.
-- result: {doctor}
return run(function()
  open_day()
  local id, status, cabinet, services = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
  local old = jget('doctors', id)
  if not old then
    old = {id = id, status = 'off', services = list_or_nil(split(ARGV[13]))}
    if ARGV[12] ~= '' then old.cabinet = ARGV[12] end
  end
  local version = tonumber(old.version) or 0
  if ARGV[14] ~= '' and tonumber(ARGV[14]) ~= version then
    fail('stale_duty', 'the doctor\'s duty changed since version ' .. ARGV[14] .. ': it is now '
         .. version)
  end
  if status ~= '' and not contains(DUTY_MOVES[old.status], status) then
    fail('illegal_duty_transition', 'a doctor who is ' .. old.status .. ' cannot go to ' .. status)
  end
  local new = copy(old)
  new.version = version + 1
  if status ~= '' then new.status = status end
  if cabinet ~= '' then new.cabinet = cabinet end
  if services ~= '' then new.services = list_or_nil(split(services)) end
  if new.status ~= 'off' then
    if not new.cabinet then fail('invalid', 'a doctor on duty needs a cabinet') end
    local holder = redis.call('HGET', P .. 'cab', new.cabinet)
    if holder and holder ~= id then
      fail('cabinet_occupied', 'cabinet ' .. new.cabinet .. ' is held by another doctor')
    end
  end
  if new.status ~= old.status then new.since = NOW end
  if old.status ~= 'off' and old.cabinet and redis.call('HGET', P .. 'cab', old.cabinet) == id then
    redis.call('HDEL', P .. 'cab', old.cabinet)
  end
  if new.status ~= 'off' then redis.call('HSET', P .. 'cab', new.cabinet, id) end
  if old.status == 'on_duty' then
    for _, s in ipairs(old.services or {}) do redis.call('HINCRBY', P .. 'dutyn', s, -1) end
  end
  if new.status == 'on_duty' then
    for _, s in ipairs(new.services or {}) do redis.call('HINCRBY', P .. 'dutyn', s, 1) end
  end
  jput('doctors', id, new)
  emit({kind = 'duty_changed', doctor = new})
  return {doctor = new}
end)
