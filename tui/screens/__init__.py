"""The console's screens and tabs (Textual widgets; no server imports)."""
