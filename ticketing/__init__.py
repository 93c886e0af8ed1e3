"""Paper tickets on ESC/POS thermal printers: layout, preview, printer adapters and a spool.

Import from the submodules (``ticketing.layout``, ``ticketing.spool``, ...): this package module
stays empty so that importing the pure layout never drags in asyncio or the adapters.
"""
