-- call_next: call the next patient to a cabinet for the doctor on duty there.
-- Booked patients who checked in go first once their slot time has come; then walk-ins by
-- arrival, priority categories taking at most ARGV[9] calls in a row.
-- ARGV[8] cabinet id   ARGV[9] priority run length   ARGV[10] acting doctor ('' for staff)
-- result: {ticket} or {} when nobody waits
return run(function()
  open_day()
  local cabinet, run_length = ARGV[8], tonumber(ARGV[9])
  local doctor_id = redis.call('HGET', P .. 'cab', cabinet)
  if not doctor_id then fail('no_doctor_on_duty', 'no doctor is on duty in cabinet ' .. cabinet) end
  if (ARGV[10] or '') ~= '' and ARGV[10] ~= doctor_id then
    fail('not_yours', 'a doctor calls patients only to their own cabinet')
  end
  local d = jget('doctors', doctor_id)
  if d.status ~= 'on_duty' then fail('doctor_on_break', 'the doctor in this cabinet is on a break') end
  if d.current then
    fail('patient_in_hand', 'finish, suspend or mark the current patient before calling the next')
  end
  local streak = d.streak or 0
  local chosen
  local booked = redis.call('ZRANGE', P .. 'bk:' .. doctor_id, 0, 0, 'WITHSCORES')
  if booked[1] and tonumber(booked[2]) <= NOW then
    chosen = booked[1]
  else
    local best = {}
    for _, service in ipairs(d.services or {}) do
      for _, kind in ipairs({'wp', 'wn'}) do
        local head = redis.call('ZRANGE', P .. kind .. ':' .. service, 0, 0, 'WITHSCORES')
        if head[1] and (not best[kind] or tonumber(head[2]) < best[kind][2]) then
          best[kind] = {head[1], tonumber(head[2])}
        end
      end
    end
    if best.wp and (not best.wn or streak < run_length) then
      chosen, streak = best.wp[1], streak + 1
    elseif best.wn then
      chosen, streak = best.wn[1], 0
    end
  end
  if not chosen then return {} end
  local t = jget('tickets', chosen)
  unindex_ticket(t)
  t.state = transition(t.state, 'call')
  t.cabinet, t.doctor, t.recalls, t.called_at = cabinet, doctor_id, nil, NOW
  d.current, d.streak = t.id, streak
  jput('tickets', t.id, t)
  jput('doctors', d.id, d)
  push_call(t)
  emit({kind = 'ticket_called', ticket = t, doctor = d})
  return {ticket = t}
end)
