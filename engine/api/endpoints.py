"""The engine's HTTP endpoints, each declared once: the queue, the roster, the clinic, booking.

The routes, the role checks and the OpenAPI document are all built from these declarations.
"""

from __future__ import annotations

from engine.api import booking as b
from engine.api import history as h
from engine.api import ops
from engine.api import routes as r
from engine.api.endpoint import PUBLIC, Endpoint, Query
from engine.api.handlers import Empty
from engine.api.views import PublicTicketView, ReservationView, TicketView
from engine.auth import ALL_STAFF
from engine.clinic import Clinic
from engine.history import History
from engine.model.tickets import TICKET_ACTIONS

API = "/api/v1/clinics/{clinic}"
WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 422, 429, 503)
READ_ERRORS = (401, 403, 404, 429, 503)
DESK = ("partner", "registrar", "head")

ENDPOINTS = [
    Endpoint("GET", "/healthz", "The process is up", ops.healthz, PUBLIC),
    Endpoint("GET", "/readyz", "Redis and PostgreSQL reachable, scripts loaded (yes or no)",
             ops.readyz, PUBLIC, errors=(503,)),
    Endpoint("GET", "/metrics",
             "Prometheus metrics (this host only unless CLINICQ_METRICS says otherwise)",
             ops.metrics_endpoint, PUBLIC, media_type="text/plain", errors=(401, 403)),
    Endpoint("GET", API, "The clinic's configuration", r.get_clinic, (*ALL_STAFF, "partner"),
             answer=Clinic, errors=READ_ERRORS),
    Endpoint("PUT", API, "Replace the clinic's configuration", r.put_clinic, ("admin",),
             body=Clinic, answer=Clinic, errors=WRITE_ERRORS),
    Endpoint("POST", API + "/tickets", "Take a ticket", r.take_ticket,
             ("kiosk", "registrar", "head"), body=r.TakeTicket, answer=TicketView, status=201,
             errors=WRITE_ERRORS),
    # In full (the priority category, the channel): for the desk and the doctors, not for the
    # tokens that sit in screens' and kiosks' URLs.
    Endpoint("GET", API + "/tickets/{ticket}", "A ticket, in full", r.get_ticket,
             ("registrar", "doctor", "head"), answer=TicketView, errors=READ_ERRORS),
    Endpoint("GET", API + "/tickets", "Today's tickets by number (the desk's lookup)",
             r.find_tickets, ("registrar", "head"), answer=r.TicketList,
             errors=(*READ_ERRORS, 422),
             query=[Query("number", {"type": "string"},
                          "as typed: Т-042, т42, T42 (a Latin look-alike), 042 (any prefix)",
                          required=True)]),
    Endpoint("GET", API + "/ticket-status/{link}",
             "A patient's ticket by its status link (public: the link is the credential)",
             r.get_ticket_status, PUBLIC, answer=PublicTicketView, errors=(404, 503)),
    *[
        Endpoint("POST", API + f"/tickets/{{ticket}}/{action}", f"Ticket: {action}",
                 r.ticket_action(action), ("doctor", "registrar", "head"),
                 body=r.TicketActionBody, answer=TicketView, errors=WRITE_ERRORS,
                 roles_note="a doctor acts on their own patients only")
        for action in sorted(TICKET_ACTIONS)
    ],
    Endpoint("POST", API + "/tickets/{ticket}/{action}", "An unknown ticket action",
             r.unknown_action, ("doctor", "registrar", "head"), documented=False),
    Endpoint("POST", API + "/cabinets/{cabinet}/call-next", "Call the next patient",
             r.call_next, ("doctor", "head"), body=Empty, answer=r.CallNextAnswer,
             errors=WRITE_ERRORS, roles_note="a doctor calls to their own cabinet only"),
    Endpoint("PUT", API + "/doctors/{doctor}/duty",
             "Change a doctor's duty live; with If-Match (the duty's ETag, the board's version) "
             "a change made against another version is refused 409 stale_duty", r.put_duty,
             ("head", "doctor"), body=r.DutyBody, errors=WRITE_ERRORS,
             roles_note="a doctor changes only their own status"),
    Endpoint("GET", API + "/whoami",
             "The token's own principal: its role, and the clinic and doctor it is bound to",
             r.whoami, (*ALL_STAFF, "partner"), answer=r.Whoami, errors=READ_ERRORS),
    Endpoint("GET", API + "/board", "The snapshot a screen starts from, with its offset",
             r.get_board, ALL_STAFF, errors=READ_ERRORS),
    Endpoint("GET", API + "/history",
             "The last hours per time bucket, from the journal: queues' lengths and waits, "
             "doctors' load", h.get_history, ("head",), answer=History, query=h.QUERY,
             errors=(*READ_ERRORS, 422)),
    Endpoint("GET", API + "/slots", "Slots of a day", b.list_slots, (*ALL_STAFF, "partner"),
             answer=b.SlotList, errors=(*READ_ERRORS, 422),
             query=[Query("date", {"type": "string", "format": "date"}, "YYYY-MM-DD"),
                    Query("doctor", {"type": "string"}, "one doctor's slots"),
                    Query("free", {"type": "string", "enum": ["true", "false", "1", "0"]},
                          "free (or taken) slots only")]),
    Endpoint("GET", API + "/slots/first-free", "The first free slot of a service, from now on",
             b.first_free_slot, (*ALL_STAFF, "partner"), answer=b.FirstFree,
             errors=READ_ERRORS,
             query=[Query("service", {"type": "string"}, "the service (the clinic's first if none)")]),
    Endpoint("POST", API + "/slots/{slot}/reservation", "Hold or book a slot", b.reserve_slot,
             DESK, body=b.ReserveBody, answer=ReservationView, status=201, errors=WRITE_ERRORS),
    Endpoint("DELETE", API + "/slots/{slot}/reservation", "Cancel the slot's reservation",
             b.cancel_slot, DESK, answer=ReservationView, errors=WRITE_ERRORS,
             roles_note="a partner cancels its own reservations only"),
    Endpoint("POST", API + "/reservations/search",
             "A patient's bookings from today on, by their reference read as at a kiosk's "
             "check-in (the desk's lookup; a read, in a body to keep the reference out of logs)",
             b.find_reservations, ("registrar", "head"), body=b.PatientQuery,
             answer=b.ReservationList, errors=(400, *READ_ERRORS, 413, 422)),
    Endpoint("GET", API + "/reservations/{reservation}", "A reservation", b.get_reservation,
             DESK, answer=ReservationView, errors=READ_ERRORS,
             roles_note="a partner sees its own reservations only"),
    Endpoint("POST", API + "/reservations/{reservation}/move", "Move to another slot",
             b.reservation_action("move"), DESK, body=b.MoveBody, answer=ReservationView,
             errors=WRITE_ERRORS),
    Endpoint("POST", API + "/reservations/{reservation}/confirm", "Confirm a held slot",
             b.reservation_action("confirm"), DESK, body=Empty, answer=ReservationView,
             errors=WRITE_ERRORS),
    Endpoint("POST", API + "/reservations/{reservation}/cancel", "Cancel a reservation",
             b.reservation_action("cancel"), DESK, body=Empty, answer=ReservationView,
             errors=WRITE_ERRORS),
    Endpoint("POST", API + "/reservations/{reservation}/check-in",
             "Check in on arrival: the booking becomes a ticket", b.reservation_action("check-in"),
             ("kiosk", "registrar", "head"), body=b.CheckInBody, answer=ReservationView,
             errors=WRITE_ERRORS, roles_note="a kiosk also gives the booking's patient reference"),
    Endpoint("POST", API + "/reservations/{reservation}/{action}",
             "An unknown reservation action", r.unknown_action, (*DESK, "kiosk"),
             documented=False),
]  # fmt: skip
