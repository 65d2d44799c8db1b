"""Sources: the bytes a provider hands over (tables, ERP exports, written requests)
turned into values, with every problem located by file, row and column.
"""
