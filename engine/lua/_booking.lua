-- Booking helpers, prepended (after _lib.lua) to the reservation scripts.

local function active(r)
  if r.state == 'held' then return r.hold_until ~= nil and r.hold_until > NOW end
  return r.state == 'confirmed' or r.state == 'checked_in'
end

-- The active reservation on a slot, or an old hold on it that must now read as expired.
local function holding(slot)
  local rid = redis.call('HGET', P .. 'slots', slot)
  if not rid then return nil, nil end
  local r = jget('res', rid)
  if r == nil then return nil, nil end
  if active(r) then return r, nil end
  r.state = 'expired'
  return nil, r
end

local function own(rid, owner)
  local r = jget('res', rid)
  if not r then fail('reservation_not_found', 'no reservation ' .. rid) end
  if owner ~= '' and (r.owner or '') ~= owner then
    fail('not_yours', 'this reservation was made through another channel')
  end
  if r.state == 'held' and not active(r) then fail('hold_expired', 'the hold on this slot has expired') end
  if r.state == 'cancelled' or r.state == 'expired' then
    fail('reservation_closed', 'the reservation is ' .. r.state)
  end
  return r
end

local function free_slot_of(r)
  if redis.call('HGET', P .. 'slots', r.slot) == r.id then redis.call('HDEL', P .. 'slots', r.slot) end
end
