"""Exports: any statistics or evaluation table and any case list as a CSV or xlsx file,
written row by row as the rows are read (``formats``), from rows that the store gives in
keyset batches (``tables``), so a million cases never sit in memory at once."""
