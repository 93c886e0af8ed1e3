-- check_in: a confirmed booking for today becomes a place in that doctor's queue.
-- ARGV[8] reservation id   ARGV[9], ARGV[10] today's local start and end, ms
-- ARGV[11] ticket prefixes as service=letter pairs, comma-separated
-- ARGV[12] the new ticket's status link ('' none)
-- ARGV[13] '1': check ARGV[14], the patient reference typed at a kiosk, against the booking's
-- result: {ticket, reservation}
return run(function()
  open_day()
  local r = own(ARGV[8], '')
  if ARGV[13] == '1' then
    local typed = patient_key(ARGV[14] or '')
    -- A wrong pair reads as "not found", before any state is told (see booking.py: check_in).
    if typed == '' or typed ~= patient_key(r.patient or '') then
      fail('reservation_not_found', 'no reservation ' .. ARGV[8])
    end
  end
  local target = res_transition(r, 'check_in')
  if r.slot_time < tonumber(ARGV[9]) or r.slot_time >= tonumber(ARGV[10]) then
    fail('not_today', 'check-in is open on the day of the appointment only')
  end
  local prefix = nil
  for pair in string.gmatch(ARGV[11], '[^,]+') do
    local service, letter = string.match(pair, '^(.-)=(.*)$')
    if service == r.service then prefix = letter end
  end
  if not prefix then fail('service_not_found', 'no service ' .. r.service) end
  local seq = redis.call('HINCRBY', P .. 'seq', r.service, 1)
  local t = {
    id = 't' .. next_offset(), number = prefix .. '-' .. string.format('%03d', seq),
    service = r.service, state = 'waiting', arrival = redis.call('HINCRBY', META, 'arrival', 1),
    issued_at = NOW, day = current_day(), seq = seq, channel = 'booking', doctor = r.doctor,
    reservation = r.id, slot_time = r.slot_time,
  }
  link_ticket(t, ARGV[12] or '')
  jput('tickets', t.id, t)
  index_ticket(t)
  r.state, r.ticket = target, t.id
  jput('res', r.id, r)
  emit({kind = 'checked_in', reservation = r, ticket = t})
  return {ticket = t, reservation = r}
end)
