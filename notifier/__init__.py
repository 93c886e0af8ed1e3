"""ICU daily SMS to relatives through SMSC.ru.

Pure core: ``phones``, ``vitals``, ``compose``, ``schedule``, ``lifecycle``.
Edges: ``crypto`` (cryptography), ``store_postgres`` (asyncpg), ``smsc`` (httpx),
``worker`` (asyncio), ``api`` (Starlette), ``cli`` (click).
"""
