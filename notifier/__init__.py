"""ICU daily SMS to relatives through SMSC.ru.

Pure core: ``phones``, ``vitals``, ``compose``, ``schedule``, ``lifecycle``, ``gateway``.
Edges: ``crypto`` (cryptography), ``store_postgres`` (asyncpg), ``gateway_smsc`` (httpx),
``worker`` (asyncio), ``api`` (Starlette), ``cli`` (click).
"""
