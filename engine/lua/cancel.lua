-- cancel: cancel a reservation, named by id or by the slot it holds; the slot is free again.
-- ARGV[8] reservation id ('' to find it by slot)   ARGV[9] slot id   ARGV[10] owner ('' for staff)
-- result: {reservation}
return run(function()
  local rid = ARGV[8]
  if rid == '' then
    rid = redis.call('HGET', P .. 'slots', ARGV[9])
    if not rid then fail('reservation_not_found', 'no reservation on slot ' .. ARGV[9]) end
  end
  local r = own(rid, ARGV[10])
  r.state, r.hold_until = res_transition(r, 'cancel'), nil
  free_slot_of(r)
  jput('res', r.id, r)
  emit({kind = 'reservation_cancelled', reservation = r})
  return {reservation = r}
end)
