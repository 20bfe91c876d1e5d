"""The igny8d operator console (Textual); it talks to a running server over HTTP only."""
