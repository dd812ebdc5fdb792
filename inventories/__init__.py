"""Cloud adapters: read-only collectors that yield resources, edges and coverage rows."""
