-- confirm: turn a live hold into a booking.
-- ARGV[8] reservation id   ARGV[9] owner ('' for staff)
-- result: {reservation}
return run(function()
  local r = own(ARGV[8], ARGV[9])
  r.state, r.hold_until = res_transition(r, 'confirm'), nil
  jput('res', r.id, r)
  emit({kind = 'reservation_confirmed', reservation = r})
  return {reservation = r}
end)
