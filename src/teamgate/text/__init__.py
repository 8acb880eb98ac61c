"""How figures and tables are written for people: times, amounts, tables, progress bars."""
