-- act: one action on one ticket: recall, start, suspend, resume, complete, no-show, transfer,
-- cancel. The acting doctor is checked here so that the check and the move are one step.
-- ARGV[8] ticket id   ARGV[9] action   ARGV[10] recalls allowed before a no-show
-- ARGV[11] service to transfer to ('' none)   ARGV[12] acting doctor ('' for staff)
-- result: {ticket}
local function release(d, ticket_id)
  if d == nil or (d.current ~= ticket_id and not contains(d.suspended, ticket_id)) then return nil end
  if d.current == ticket_id then d.current = nil end
  d.suspended = without(d.suspended, ticket_id)
  jput('doctors', d.id, d)
  return d
end

return run(function()
  open_day()
  local id, action, max_recalls = ARGV[8], ARGV[9], tonumber(ARGV[10])
  local to_service, actor = ARGV[11], ARGV[12]
  local t = jget('tickets', id)
  if not t then fail('ticket_not_found', 'no ticket ' .. id .. ' today') end
  if actor ~= '' and t.doctor ~= actor then
    fail('not_yours', 'a doctor acts only on their own patients')
  end
  local target = transition(t.state, action)
  local d = nil
  if t.doctor then d = jget('doctors', t.doctor) end
  if action == 'recall' then
    if (t.recalls or 0) >= max_recalls then
      t.state, t.finished_at = 'no_show', NOW
      jput('tickets', id, t)
      emit({kind = 'ticket_no_show', ticket = t, doctor = release(d, id)})
    else
      t.recalls, t.called_at = (t.recalls or 0) + 1, NOW
      -- A doctor moved since the call recalls the patient to where they are now.
      if d ~= nil and d.cabinet then t.cabinet = d.cabinet end
      jput('tickets', id, t)
      push_call(t)
      emit({kind = 'ticket_recalled', ticket = t})
    end
  elseif action == 'start' then
    t.state, t.started_at = target, NOW
    jput('tickets', id, t)
    emit({kind = 'ticket_started', ticket = t})
  elseif action == 'suspend' then
    t.state = target
    d.current = nil
    local suspended = d.suspended or {}
    suspended[#suspended + 1] = id
    d.suspended = suspended
    jput('tickets', id, t)
    jput('doctors', d.id, d)
    emit({kind = 'ticket_suspended', ticket = t, doctor = d})
  elseif action == 'resume' then
    if d.current then fail('patient_in_hand', 'finish the current patient before resuming') end
    t.state = target
    d.current, d.suspended = id, without(d.suspended, id)
    jput('tickets', id, t)
    jput('doctors', d.id, d)
    emit({kind = 'ticket_resumed', ticket = t, doctor = d})
  elseif action == 'complete' then
    local seconds = math.max(0, math.floor((NOW - (t.started_at or NOW)) / 1000))
    t.state, t.finished_at = target, NOW
    d.current = nil
    d.served = (d.served or 0) + 1
    d.service_seconds = (d.service_seconds or 0) + seconds
    redis.call('HINCRBY', P .. 'stats', t.service .. ':served', 1)
    redis.call('HINCRBY', P .. 'stats', t.service .. ':seconds', seconds)
    jput('tickets', id, t)
    jput('doctors', d.id, d)
    emit({kind = 'ticket_completed', ticket = t, doctor = d, service_seconds = seconds})
  elseif action == 'no-show' then
    t.state, t.finished_at = target, NOW
    jput('tickets', id, t)
    emit({kind = 'ticket_no_show', ticket = t, doctor = release(d, id)})
  elseif action == 'transfer' then
    if to_service == '' then fail('invalid', 'transfer needs a service to move the ticket to') end
    if to_service == t.service then fail('same_service', 'the ticket already waits for that service') end
    if t.state == 'waiting' then unindex_ticket(t) end
    local from_service = t.service
    t.state, t.service = target, to_service
    t.cabinet, t.doctor, t.recalls, t.called_at, t.started_at, t.slot_time = nil, nil, nil, nil, nil, nil
    jput('tickets', id, t)
    index_ticket(t)
    emit({kind = 'ticket_transferred', ticket = t, from_service = from_service, doctor = release(d, id)})
  elseif action == 'cancel' then
    if t.state == 'waiting' then unindex_ticket(t) end
    t.state, t.finished_at = target, NOW
    jput('tickets', id, t)
    emit({kind = 'ticket_cancelled', ticket = t, doctor = release(d, id)})
  else
    fail('illegal_transition', action .. ' is not a ticket action')
  end
  return {ticket = t}
end)
