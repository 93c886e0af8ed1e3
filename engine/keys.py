"""Every Redis key name, in one place.

A clinic's keys all carry the clinic id as a Redis Cluster hash tag (``q:{demo}:...``) so they live
on one shard and one Lua script may touch them all. The Lua scripts receive ``prefix`` and build
the same names; the list below is the map of what they use.

    q:{c}:meta          hash: epoch, day, offset, arrival, link (SHA-1 of the last event's body),
                        day_offset (the offset that opened the day)
    q:{c}:seq           hash: service -> last number issued today
    q:{c}:tickets       hash: ticket id -> ticket JSON
    q:{c}:links         hash: a patient's status link -> ticket id (today's tickets)
    q:{c}:wp:{service}  zset: waiting priority walk-ins, scored by arrival
    q:{c}:wn:{service}  zset: waiting plain walk-ins, scored by arrival
    q:{c}:bk:{doctor}   zset: checked-in booked patients, scored by slot time
    q:{c}:doctors       hash: doctor id -> duty JSON
    q:{c}:cab           hash: cabinet -> doctor holding it (on duty or on a break)
    q:{c}:dutyn         hash: service -> doctors on duty serving it
    q:{c}:res           hash: reservation id -> reservation JSON (today's and later: a new
                        day drops the days before it; the journal keeps them)
    q:{c}:slots         hash: slot id -> reservation id holding it (today's and later)
    q:{c}:calls         list: the newest calls, newest first
    q:{c}:stats         hash: "{service}:served", "{service}:seconds"
    q:{c}:events        stream: yesterday's and today's events, entry id "{offset}-0" (a new
                        day trims to the day before's first offset, ``meta.day_offset``); a
                        rebuild tags the entries it writes with its epoch (field ``x``) and
                        appends a marker "{offset}-1" with only ``x``, for the push readers
    q:{c}:wake:{r}      stream: wakes push reader r blocked on this slot (cluster); expires
    q:{c}:idem:{key}    string: "{fingerprint}|{answer}" for a retried write
    q:{c}:rebuild       string: the lock held while a clinic is rebuilt from the journal
    q:{c}:pj:{job}      string: a print job's record (JSON), for every worker; expires
    q:{c}:pt:{ticket}   string: the print job of a ticket ("pending" while it is submitted)
    q:{c}:printers      hash: kiosk id -> its printer's last observed state (JSON)
    q:wake:{r}          stream: wakes push reader r (a single Redis); expires
"""

from __future__ import annotations


def prefix(clinic: str) -> str:
    return f"q:{{{clinic}}}:"


def meta(clinic: str) -> str:
    return prefix(clinic) + "meta"


def events(clinic: str) -> str:
    return prefix(clinic) + "events"


def rebuild_lock(clinic: str) -> str:
    return prefix(clinic) + "rebuild"


def idem(clinic: str, key: str) -> str:
    return prefix(clinic) + "idem:" + key


def print_job(clinic: str, job: str) -> str:
    return prefix(clinic) + "pj:" + job


def ticket_print_job(clinic: str, ticket: str) -> str:
    return prefix(clinic) + "pt:" + ticket


def printers(clinic: str) -> str:
    return prefix(clinic) + "printers"


def printer_log(clinic: str) -> str:
    """Kiosk printer changes for the push server (ticketing writes, the feed reads)."""
    return prefix(clinic) + "printers:log"


def push_wake(reader: str, clinic: str | None = None) -> str:
    """A push process's reader's wake stream; in ``clinic``'s slot when it reads in a cluster."""
    return (prefix(clinic) if clinic else "q:") + "wake:" + reader


def clinic_key(clinic: str, name: str) -> str:
    """Any other per-clinic key, e.g. ``clinic_key(c, "wn:therapy")``."""
    return prefix(clinic) + name


# Every per-clinic key without a variable part; rebuild and dump walk this list.
FIXED = ("meta", "seq", "tickets", "doctors", "cab", "dutyn", "res", "slots", "calls", "stats")
# Keys that are not derived from the journal: a rebuild keeps them.
_KEPT = ("rebuild", "pj:", "pt:", "printers", "wake:")


def is_derived(clinic: str, key: str) -> bool:
    """Whether a key of the clinic's holds live state that a rebuild replaces."""
    return not key.removeprefix(prefix(clinic)).startswith(_KEPT)
