"""The functional core: the practice's rules as pure functions over plain data.

No files, no clock, no widgets, no Portuguese sentences: codes and numbers.
"""
