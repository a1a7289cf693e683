"""One file per section of the report; each is `section(doc, analysis)`: it computes nothing and reads no file."""
