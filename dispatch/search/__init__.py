"""Finding cases (查询): what a search box's text and a list's filters mean (``terms``,
``filters``, ``paging``: pure), the full-text indexes of migration 0011 behind one query
interface for SQLite and PostgreSQL (``text_index``), and the case search the centre and
the units run (``case_search``; a unit sees only its cases, matched only on what it may
read). Calls and the access log are searched from ``custody``, which holds their rules.
"""
