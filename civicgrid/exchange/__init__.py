"""Exchange with partners (the city's 12345 platform, upper-level centres): their work
orders in, by API or spreadsheet, and each change of those cases back out, signed."""
