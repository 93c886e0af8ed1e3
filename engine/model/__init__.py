"""The pure core: queue, roster and slot rules over plain data. No I/O is imported here."""
