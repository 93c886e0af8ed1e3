-- act: one action on one ticket: recall, start, suspend, resume, complete, no-show, transfer,
-- cancel. The acting doctor is checked here so that the check and the move are one step.
-- ARGV[8] ticket id   ARGV[9] action   ARGV[10] recalls allowed before a no-show
-- ARGV[11] service to transfer to ('' none)   ARGV[12] acting doctor ('' for staff)
-- ARGV[13] why a cancellation ('' none: left out of the event, as the model's default)
-- result: {ticket}
local ID, ACTION, MAX_RECALLS = ARGV[8], ARGV[9], tonumber(ARGV[10])
local TO_SERVICE, ACTOR, REASON = ARGV[11], ARGV[12], ARGV[13] or ''

-- The doctor once the ticket leaves their hand or suspended list (nil: no change).
local function release(d, ticket_id)
  if d == nil or (d.current ~= ticket_id and not contains(d.suspended, ticket_id)) then return nil end
  if d.current == ticket_id then d.current = nil end
  d.suspended = without(d.suspended, ticket_id)
  return d
end

-- Store what the event carries (the ticket, and the doctor when it changed) and publish it,
-- as the pure model's emit applies the event; the handler's answer is the ticket.
local function settle(event)
  jput('tickets', ID, event.ticket)
  if event.doctor then jput('doctors', event.doctor.id, event.doctor) end
  emit(event)
  return event.ticket
end

-- One handler per action, as in engine/model/ticket_actions.py ACTIONS: (ticket, its doctor or nil,
-- the state the table allows) -> the ticket after it.
local ACTIONS = {}

ACTIONS['recall'] = function(t, d)
  if (t.recalls or 0) >= MAX_RECALLS then
    t.state, t.finished_at = 'no_show', NOW
    return settle({kind = 'ticket_no_show', ticket = t, doctor = release(d, ID)})
  end
  t.recalls, t.called_at = (t.recalls or 0) + 1, NOW
  -- A doctor moved since the call recalls the patient to where they are now.
  if d ~= nil and d.cabinet then t.cabinet = d.cabinet end
  push_call(t)
  return settle({kind = 'ticket_recalled', ticket = t})
end

ACTIONS['start'] = function(t, d, target)
  t.state, t.started_at = target, NOW
  return settle({kind = 'ticket_started', ticket = t})
end

ACTIONS['suspend'] = function(t, d, target)
  t.state = target
  d.current = nil
  local suspended = d.suspended or {}
  suspended[#suspended + 1] = ID
  d.suspended = suspended
  return settle({kind = 'ticket_suspended', ticket = t, doctor = d})
end

ACTIONS['resume'] = function(t, d, target)
  if d.current then fail('patient_in_hand', 'finish the current patient before resuming') end
  t.state = target
  d.current, d.suspended = ID, without(d.suspended, ID)
  return settle({kind = 'ticket_resumed', ticket = t, doctor = d})
end

ACTIONS['complete'] = function(t, d, target)
  local seconds = math.max(0, math.floor((NOW - (t.started_at or NOW)) / 1000))
  t.state, t.finished_at = target, NOW
  d.current = nil
  d.served = (d.served or 0) + 1
  d.service_seconds = (d.service_seconds or 0) + seconds
  redis.call('HINCRBY', P .. 'stats', t.service .. ':served', 1)
  redis.call('HINCRBY', P .. 'stats', t.service .. ':seconds', seconds)
  return settle({kind = 'ticket_completed', ticket = t, doctor = d, service_seconds = seconds})
end

ACTIONS['no-show'] = function(t, d, target)
  t.state, t.finished_at = target, NOW
  return settle({kind = 'ticket_no_show', ticket = t, doctor = release(d, ID)})
end

ACTIONS['transfer'] = function(t, d, target)
  if TO_SERVICE == '' then fail('invalid', 'transfer needs a service to move the ticket to') end
  if TO_SERVICE == t.service then fail('same_service', 'the ticket already waits for that service') end
  if t.state == 'waiting' then unindex_ticket(t) end
  local from_service = t.service
  t.state, t.service = target, TO_SERVICE
  t.cabinet, t.doctor, t.recalls, t.called_at, t.started_at, t.slot_time = nil, nil, nil, nil, nil, nil
  index_ticket(t)
  return settle({kind = 'ticket_transferred', ticket = t, from_service = from_service,
                 doctor = release(d, ID)})
end

ACTIONS['cancel'] = function(t, d, target)
  if t.state == 'waiting' then unindex_ticket(t) end
  t.state, t.finished_at = target, NOW
  local event = {kind = 'ticket_cancelled', ticket = t, doctor = release(d, ID)}
  if REASON ~= '' then event.reason = REASON end
  return settle(event)
end

return run(function()
  open_day()
  local t = jget('tickets', ID)
  if not t then fail('ticket_not_found', 'no ticket ' .. ID .. ' today') end
  if ACTOR ~= '' and t.doctor ~= ACTOR then
    fail('not_yours', 'a doctor acts only on their own patients')
  end
  local target = transition(t.state, ACTION)
  local handler = ACTIONS[ACTION]
  if not handler then fail('illegal_transition', ACTION .. ' is not a ticket action') end
  local d = nil
  if t.doctor then d = jget('doctors', t.doctor) end
  return {ticket = handler(t, d, target)}
end)
