"""Reports (issue 17): the indicators read from the database and laid out for people.

- ``tables``: ``Report``, ``Table``, ``Cell``: what a page, an .xlsx export and a bulletin
  (通报) all show; JSON for the stored bulletins.
- ``xlsx``: a report as an Excel workbook, one sheet per table.
"""
