-- Booking helpers, prepended (after _lib.lua) to the reservation scripts.

local function active(r)
  if r.state == 'held' then return r.hold_until ~= nil and r.hold_until > NOW end
  return RESERVATION_HOLDS_SLOT[r.state] == true
end

-- The state after a reservation's action, or the refusal the table names for the move it lacks.
local function res_transition(r, action)
  local target = (RESERVATION_TRANSITIONS[r.state] or {})[action]
  if target then return target end
  local refusal = (RESERVATION_REFUSALS[r.state] or {})[action]
    or {'illegal_transition', 'a {state} reservation cannot ' .. action}
  fail(refusal[1], (string.gsub(refusal[2], '{state}', r.state)))
end

-- The active reservation on a slot, or an old hold on it that must now read as expired.
local function holding(slot)
  local rid = redis.call('HGET', P .. 'slots', slot)
  if not rid then return nil, nil end
  local r = jget('res', rid)
  if r == nil then return nil, nil end
  if active(r) then return r, nil end
  r.state = res_transition(r, 'expire')
  return nil, r
end

local function own(rid, owner)
  local r = jget('res', rid)
  -- Another channel's reservation reads exactly as one that does not exist.
  if not r or (owner ~= '' and (r.owner or '') ~= owner) then
    fail('reservation_not_found', 'no reservation ' .. rid)
  end
  if r.state == 'held' and not active(r) then fail('hold_expired', 'the hold on this slot has expired') end
  return r
end

local function free_slot_of(r)
  if redis.call('HGET', P .. 'slots', r.slot) == r.id then redis.call('HDEL', P .. 'slots', r.slot) end
end
