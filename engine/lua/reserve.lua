-- reserve: hold a free slot for a while (or book it outright): one slot, one reservation.
-- ARGV[8] slot id   ARGV[9] slot start, ms   ARGV[10] doctor   ARGV[11] service
-- ARGV[12] patient reference   ARGV[13] channel   ARGV[14] owner (token id)
-- ARGV[15] '1' to confirm at once   ARGV[16] hold length, ms
-- result: {reservation}
return run(function()
  local slot, slot_time = ARGV[8], tonumber(ARGV[9])
  if slot_time <= NOW then fail('slot_past', 'that slot has already begun') end
  local taken, expired = holding(slot)
  if taken then fail('slot_taken', 'slot ' .. slot .. ' is already reserved') end
  local r = {
    id = 'r' .. next_offset(), slot = slot, doctor = ARGV[10], service = ARGV[11],
    slot_time = slot_time, state = 'held', patient = ARGV[12], created_at = NOW,
    channel = ARGV[13], owner = ARGV[14], hold_until = NOW + tonumber(ARGV[16]),
  }
  if ARGV[15] == '1' then r.state, r.hold_until = 'confirmed', nil end
  if expired then jput('res', expired.id, expired) end
  jput('res', r.id, r)
  redis.call('HSET', P .. 'slots', slot, r.id)
  emit({kind = 'slot_reserved', reservation = r, expired = expired})
  return {reservation = r}
end)
