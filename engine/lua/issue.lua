-- issue: take a walk-in ticket: the next number of the day for a service.
-- ARGV[8] service id   ARGV[9] ticket prefix letter   ARGV[10] priority category ('' none)
-- ARGV[11] channel   ARGV[12] the status link ('' none)
-- result: {ticket, ahead, served, seconds, on_duty}
return run(function()
  open_day()
  local service, prefix, priority, channel = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
  local ahead = redis.call('ZCARD', P .. 'wp:' .. service)
  if priority == '' then ahead = ahead + redis.call('ZCARD', P .. 'wn:' .. service) end
  local seq = redis.call('HINCRBY', P .. 'seq', service, 1)
  local t = {
    id = 't' .. next_offset(), number = prefix .. '-' .. string.format('%03d', seq),
    service = service, state = 'waiting', arrival = redis.call('HINCRBY', META, 'arrival', 1),
    issued_at = NOW, day = current_day(), seq = seq, channel = channel,
  }
  if priority ~= '' then t.priority = priority end
  link_ticket(t, ARGV[12] or '')
  jput('tickets', t.id, t)
  index_ticket(t)
  emit({kind = 'ticket_issued', ticket = t})
  local answer = rates(service)
  answer.ticket = t
  answer.ahead = ahead
  return answer
end)
