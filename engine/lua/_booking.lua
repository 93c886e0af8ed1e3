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

-- A patient reference as it is compared: engine/model/matching.py: patient_key, the same rule.
-- With at least KEY_MIN_DIGITS ASCII digits (a policy number, a phone), the digits alone;
-- otherwise spaces (and the no-break space) and dashes are dropped, A-Z and Cyrillic capitals
-- lowered. KEY_MIN_DIGITS is matching.MIN_DIGITS: test_check_in_matching.py holds the two
-- rules to the same bytes on either side of it.
local KEY_MIN_DIGITS = 6

local KEY_SKIPPED = {
  [' '] = true, ['\t'] = true, ['\n'] = true, ['\r'] = true, ['\f'] = true, ['\v'] = true,
  ['\194\160'] = true, ['-'] = true, ['\226\128\144'] = true, ['\226\128\145'] = true,
  ['\226\128\146'] = true, ['\226\128\147'] = true, ['\226\128\148'] = true,
  ['\226\128\149'] = true, ['\226\136\146'] = true,
}

local function patient_key(text)
  -- Bytes 0-9 only: UTF-8 continuation and lead bytes are never in the ASCII range.
  local digits = string.gsub(text, '[^0-9]', '')
  if #digits >= KEY_MIN_DIGITS then return digits end
  local out = {}
  -- One UTF-8 character at a time: a lead byte and its continuation bytes.
  for ch in string.gmatch(text, '[%z\1-\127\192-\255][\128-\191]*') do
    if not KEY_SKIPPED[ch] then
      local b1, b2 = string.byte(ch, 1, 2)
      if #ch == 1 and b1 >= 65 and b1 <= 90 then
        ch = string.char(b1 + 32)
      elseif #ch == 2 then
        local cp = (b1 - 192) * 64 + (b2 - 128)
        local lower = nil
        if cp >= 0x410 and cp <= 0x42F then lower = cp + 0x20
        elseif cp >= 0x400 and cp <= 0x40F then lower = cp + 0x50 end
        if lower then ch = string.char(192 + math.floor(lower / 64), 128 + lower % 64) end
      end
      out[#out + 1] = ch
    end
  end
  return table.concat(out)
end
