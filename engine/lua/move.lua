-- move: move a reservation to another slot in one step; on any refusal the old slot is kept,
-- so the patient never holds two slots and never ends with none.
-- ARGV[8] reservation id   ARGV[9] owner ('' for staff)   ARGV[10] new slot id
-- ARGV[11] new slot start, ms   ARGV[12] its doctor   ARGV[13] its service
-- result: {reservation}
return run(function()
  local r = own(ARGV[8], ARGV[9])
  local slot, slot_time = ARGV[10], tonumber(ARGV[11])
  res_transition(r, 'move')  -- the same state, if the table allows a move
  if slot == r.slot then fail('same_slot', 'the reservation already holds that slot') end
  if ARGV[13] ~= r.service then
    fail('service_mismatch', 'a booking moves only to a slot of the same service')
  end
  if slot_time <= NOW then fail('slot_past', 'that slot has already begun') end
  local taken, expired = holding(slot)
  if taken then fail('slot_taken', 'slot ' .. slot .. ' is already reserved') end
  local from_slot = r.slot
  free_slot_of(r)
  if expired then jput('res', expired.id, expired) end
  r.slot, r.slot_time, r.doctor, r.service = slot, slot_time, ARGV[12], ARGV[13]
  jput('res', r.id, r)
  redis.call('HSET', P .. 'slots', slot, r.id)
  emit({kind = 'reservation_moved', reservation = r, from_slot = from_slot, expired = expired})
  return {reservation = r}
end)
